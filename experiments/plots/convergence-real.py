"""convergence-real: the simulator's predicted T_conv (median over seeds, with its p99 spread)
against real processes' measured T_conv, with the y = x line."""
import common

folder = common.run_dir()
rows = [(r["params"], r["result"]) for r in common.records(folder, "convergence-real")]
fig, axis = common.plt.subplots(figsize=(6, 5))  # style
real = [r["real_t_conv_s"] for _, r in rows]
sim = [r["sim_median_t_conv_s"] for _, r in rows]
spread = [r["sim_t_conv_s"]["p99"] - r["sim_median_t_conv_s"] for _, r in rows]
axis.errorbar(real, sim, yerr=[[0] * len(spread), spread], fmt="o", capsize=3)  # style
low, high = min(real + sim), max(real + sim)
axis.plot([low, high], [low, high], "k--", linewidth=1, label="y = x")
axis.set_xlabel("measured T_conv, real processes (s)")
axis.set_ylabel("simulated T_conv, median and p99 (s)")
axis.legend()
fig.tight_layout()
common.save(fig, folder, "convergence-real")
