"""chaos: how long each round of the real-process nemesis took to settle (its adapter certified
by the register and served by every node), by the fault the round injected, as a CDF."""
import collections

import common

folder = common.run_dir()
rounds = common.records(folder, "rounds")
settle = collections.defaultdict(list)
for r in rounds:
    if "settle_s" in r:
        settle[r["fault"]].append(r["settle_s"])

fig, axis = common.plt.subplots(figsize=(6, 3.4))  # style
for fault in sorted(settle):
    xs, ys = common.cdf(settle[fault])
    axis.step(xs, ys, where="post", label=f"{fault} ({len(xs)})")
axis.set_xscale("log")
axis.set_xlabel("time to settle after the fault (s)")
axis.set_ylabel("fraction of rounds")
axis.legend(fontsize="small", title="fault (rounds)", title_fontsize="small")
axis.grid(alpha=0.3)  # style
fig.tight_layout()
common.save(fig, folder, "chaos")
