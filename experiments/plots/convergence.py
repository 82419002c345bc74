"""convergence: measured T_conv against Vaidyanathan's bound and the quorum bound (y = x line),
and the CDF of measured / bound for both."""
import common

folder = common.run_dir()
rows = [r["result"] for r in common.records(folder, "convergence") if "t_conv_s" in r["result"]]
bounds = (("vaidyanathan_bound_s", "ratio_vaidyanathan", "Vaidyanathan: max V + P + S/B"),
          ("quorum_bound_s", "ratio_quorum", "quorum: V(2f+1) + C + P + S/B + L + swap"))

fig, axes = common.plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)  # style
for axis, (bound, _, label) in zip(axes, bounds):
    xs = [r[bound] for r in rows]
    ys = [r["t_conv_s"] for r in rows]
    axis.scatter(xs, ys, s=8, alpha=0.5)  # style
    low, high = min(xs + ys), max(xs + ys)
    axis.plot([low, high], [low, high], "k--", linewidth=1, label="y = x")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel(f"bound (s): {label}")
    axis.set_title(label.split(":")[0])
    axis.legend()
axes[0].set_ylabel("measured T_conv (s)")
fig.tight_layout()
common.save(fig, folder, "convergence-vs-bounds")

fig, axis = common.plt.subplots(figsize=(6, 4.5))  # style
for _, ratio, label in bounds:
    xs, ps = common.cdf([r[ratio] for r in rows])
    axis.step(xs, ps, where="post", label=label)
axis.axvline(1, color="k", linestyle="--", linewidth=1)
axis.set_xlabel("measured T_conv / bound")
axis.set_ylabel("fraction of runs")
axis.legend()
fig.tight_layout()
common.save(fig, folder, "convergence-ratio-cdf")
