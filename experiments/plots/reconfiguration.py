"""reconfiguration: how long each epoch change takes from the operator's proposal to every honest
member of the new set running it, split into waiting for the register to take it (refused while a
vote is under way) and the switch itself (ordering, approvals, members restarting in the new
epoch), with 0 or f Byzantine validators; and what a new member fetches and verifies to join,
against the releases before the switch (simulator, and real processes where the run has them); and
on real processes, each stage of replacing a validator with a new host after k releases."""
import common

folder = common.run_dir()
summary = common.summary(folder)
switches = summary["switches"]
catch_up = summary["catch_up"]
real = summary.get("real", [])

fig, axes = common.plt.subplots(1, 3 if real else 2, figsize=(16 if real else 11, 4))  # style
left = axes[0]
changes = sorted({r["change"] for r in switches})
byzantine = sorted({r["byzantine"] for r in switches})
width = 1 / (len(byzantine) + 1)
for k, b in enumerate(byzantine):
    rows = {r["change"]: r for r in switches if r["byzantine"] == b}
    xs = [i + k * width for i in range(len(changes))]
    wait = [rows[c]["wait_s"].get("mean", 0) for c in changes]
    switch = [rows[c]["ordered_to_running_s"].get("mean", 0) for c in changes]
    p99 = [rows[c]["switch_s"].get("p99", 0) for c in changes]
    left.bar(xs, wait, width, color=f"C{k}", hatch="//", fill=False, label=f"{b} Byzantine: waiting for a vote")
    left.bar(xs, switch, width, bottom=wait, color=f"C{k}", label=f"{b} Byzantine: ordered to running")
    left.scatter(xs, p99, marker="_", color="black", label="p99 of the whole" if k == 0 else None)
# Room above the tallest p99 for the legend.
left.set_ylim(0, 1.5 * max([r["switch_s"].get("p99", 0) for r in switches] + [0.1]))  # style
left.set_xticks([i + width * (len(byzantine) - 1) / 2 for i in range(len(changes))])
left.set_xticklabels(changes)
left.set_ylabel("proposal to new set running, mean (s)")
left.set_title("switch time under load")
left.legend(fontsize="x-small")

right = axes[1]
released = [r["released"] for r in catch_up]
right.plot(released, [r["handoff_bytes"].get("mean", 0) for r in catch_up], marker="o", label="simulator")
if real:
    right.plot([r["released"] for r in real], [r["handoff_bytes"].get("mean", 0) for r in real],
               marker="s", label="real processes")
    right.legend(fontsize="x-small")
right.set_xscale("log")
right.set_yscale("log")
right.set_xlabel("adapters released before the switch")
right.set_ylabel("frozen register a new member fetches (bytes)")
right.set_title("a new member's catch-up")
if real:
    stages = [("certified_after_s", "epoch certified"), ("quorum_running_s", "a quorum runs it"),
              ("switch_s", "every member runs it"), ("first_release_s", "operator sees its first release"),
              ("served_s", "the node serves that release"), ("join_s", "new host's join (from its start)")]
    ax = axes[2]
    xs = [r["released"] for r in real]
    for key, label in stages:
        means = [r[key].get("mean", 0) for r in real]
        above = [r[key].get("max", 0) - m for r, m in zip(real, means)]
        ax.errorbar(xs, means, yerr=[[0] * len(means), above], marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("adapters released before the switch")
    ax.set_ylabel("mean, bar to the slowest run (s)")
    ax.set_title("replacing a validator, real processes")
    ax.legend(fontsize="x-small")
fig.tight_layout()
common.save(fig, folder, "reconfiguration")
