"""consistability: time in each consistency class per failure scenario and strategy, CProb per
class and strategy, and the fleet's lag behind the newest certified version around a fault."""
import collections

import common

folder = common.run_dir()
records = common.records(folder, "consistability")
summary = common.summary(folder)
classes = summary["classes"]
strategies = sorted({r["params"]["strategy"] for r in records})
scenarios = []
for r in records:
    if r["params"]["scenario"] not in scenarios:
        scenarios.append(r["params"]["scenario"])

fraction = collections.defaultdict(list)
for r in records:
    for c in classes:
        fraction[(r["params"]["strategy"], r["params"]["scenario"], c)].append(
            r["result"]["classes"][c])


def mean(values):
    return sum(values) / len(values)


fig, axes = common.plt.subplots(len(strategies), 1, figsize=(12, 3.2 * len(strategies)),  # style
                                sharex=True)
if len(strategies) == 1:
    axes = [axes]
width = 1 / (len(classes) + 1)
for axis, strategy in zip(axes, strategies):
    for k, c in enumerate(classes):
        xs = [i + k * width for i in range(len(scenarios))]
        axis.bar(xs, [mean(fraction[(strategy, s, c)]) for s in scenarios], width, label=c)
    axis.set_ylabel("time fraction")
    axis.set_title(strategy)
axes[0].legend(ncol=len(classes), fontsize="small")
axes[-1].set_xticks([i + width * (len(classes) - 1) / 2 for i in range(len(scenarios))])
axes[-1].set_xticklabels(scenarios, rotation=45, ha="right", fontsize="small")  # style
fig.tight_layout()
common.save(fig, folder, "consistability-classes")

fig, axis = common.plt.subplots(figsize=(7, 4))  # style
for k, strategy in enumerate(strategies):
    xs = [i + k / (len(strategies) + 1) for i in range(len(classes))]
    axis.bar(xs, [summary["cprob"][strategy][c] for c in classes], 1 / (len(strategies) + 1),
             label=strategy)
axis.set_xticks([i + (len(strategies) - 1) / (2 * (len(strategies) + 1)) for i in range(len(classes))])
axis.set_xticklabels(classes)
axis.set_ylabel("CProb")
axis.legend()
fig.tight_layout()
common.save(fig, folder, "consistability-cprob")

fig, axis = common.plt.subplots(figsize=(7, 4))  # style
windowed = ("validator-partition", "fleet-cut-off", "store-down", "composite")
for scenario in [s for s in scenarios if s in windowed]:
    series = collections.defaultdict(list)
    for r in records:
        if r["params"]["strategy"] != "bftgate" or r["params"]["scenario"] != scenario:
            continue
        for t, lag in r["result"].get("lag_after_fault", []):
            series[t].append(lag)
    if not series:
        continue
    ts = sorted(series)
    axis.plot(ts, [mean(series[t]) for t in ts], label=scenario)
axis.set_xlabel("time (s)")
axis.set_ylabel("versions behind the newest certified")
axis.set_title("bftgate: the fleet around a fault window")
axis.legend(fontsize="small")
fig.tight_layout()
common.save(fig, folder, "consistability-transition")
