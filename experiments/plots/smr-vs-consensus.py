"""smr-vs-consensus: Antoniadis et al.'s Fig. 2 on bftgate's PBFT core (per command: consensus cost and
SMR cost on the left axis, latency on the right; one row per pipeline, one column per
scenario; the first run of each), and the catch-up spike against the backlog."""
import collections

import common

folder = common.run_dir()
records = common.records(folder, "smr-vs-consensus")
summary = common.summary(folder)
series = [r for r in records if r["params"]["kind"] == "series" and r["params"]["repetition"] == 0]
scenarios = ["graceful", "straggler", "switch"]
pipelines = sorted({r["params"]["pipeline"] for r in series})
THIN = 0.8  # style

fig, axes = common.plt.subplots(len(pipelines), len(scenarios), squeeze=False,
                                figsize=(15, 3.6 * len(pipelines)))  # style
for row, pipeline in enumerate(pipelines):
    for col, scenario in enumerate(scenarios):
        axis = axes[row][col]
        runs = [r for r in series
                if r["params"]["pipeline"] == pipeline and r["params"]["scenario"] == scenario]
        if not runs:
            axis.set_visible(False)
            continue
        result = runs[0]["result"]
        commands = list(range(1, len(result["latency_ms"]) + 1))
        axis.plot(commands, result["smr_messages"], color="tab:red", linewidth=THIN,
                  label="SMR cost (messages)")
        axis.plot(commands, result["consensus_messages"], color="tab:blue", linewidth=THIN,
                  label="consensus cost (messages)")
        axis.set_yscale("log")
        axis.set_xlabel("command")
        axis.set_title(f"{scenario}, pipeline {pipeline}")
        latency = axis.twinx()
        latency.plot(commands, result["latency_ms"], color="tab:green", linewidth=THIN,
                     label="latency (ms)")
        latency.set_yscale("log")
        if col == 0:
            axis.set_ylabel("messages per command")
        if col == len(scenarios) - 1:
            latency.set_ylabel("latency (ms)")
        if row == 0 and col == 0:
            lines = axis.get_lines() + latency.get_lines()
            axis.legend(lines, [line.get_label() for line in lines], fontsize="small")
fig.tight_layout()
common.save(fig, folder, "smr-vs-consensus")

backlog = collections.defaultdict(lambda: collections.defaultdict(list))
for r in records:
    if r["params"]["kind"] != "backlog":
        continue
    key = r["params"]["catch_up"]
    backlog[key]["missed"].append(r["params"]["missed"])
    backlog[key]["messages"].append(r["result"]["spike_smr_messages"])
    backlog[key]["latency"].append(r["result"]["spike_latency_ms"])
fig, (left, right) = common.plt.subplots(1, 2, figsize=(11, 4))  # style
for mode, values in sorted(backlog.items()):
    order = sorted(range(len(values["missed"])), key=lambda i: values["missed"][i])
    xs = [values["missed"][i] for i in order]
    left.plot(xs, [values["messages"][i] for i in order], marker="o", label=mode)
    right.plot(xs, [values["latency"][i] for i in order], marker="o", label=mode)
real_backlog = summary.get("real_backlog", [])
if real_backlog:
    right.scatter([r["missed"] for r in real_backlog], [r["spike_latency_ms"] for r in real_backlog],
                  marker="s", color="k", label="real processes (validator settings)")
    right.scatter([r["missed"] for r in real_backlog],
                  [r["predicted_spike_latency_ms"] for r in real_backlog], marker="x",
                  color="tab:red", label="simulator's prediction of them")
for axis, label in ((left, "spike: SMR cost (messages)"), (right, "spike: worst latency (ms)")):
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("commands missed before the switch")
    axis.set_ylabel(label)
    axis.legend()
fig.tight_layout()
common.save(fig, folder, "smr-backlog")

# The real runs: per-command latency of PBFT (validator processes) and Raft (etcd) side by side;
# on the second axis, PBFT's costs from its message traces and etcd's peer bytes per command.
systems = [("pbft-real", "PBFT, real processes"), ("etcd-real", "Raft (etcd), real processes")]
real = [r for r in records if r["params"]["kind"] in dict(systems)
        and r["params"]["repetition"] == 0 and "latency_ms" in r["result"]]
real_pipeline = min((r["params"]["pipeline"] for r in real), default=None)
if real_pipeline is not None:
    fig, axes = common.plt.subplots(len(systems), len(scenarios), squeeze=False,
                                    figsize=(15, 3.6 * len(systems)))  # style
    for row, (kind, label) in enumerate(systems):
        for col, scenario in enumerate(scenarios):
            axis = axes[row][col]
            runs = [r for r in real if r["params"]["kind"] == kind
                    and r["params"]["scenario"] == scenario
                    and r["params"]["pipeline"] == real_pipeline]
            if not runs:
                axis.set_visible(False)
                continue
            result = runs[0]["result"]
            commands = list(range(1, len(result["latency_ms"]) + 1))
            axis.plot(commands, result["latency_ms"], color="tab:green", linewidth=THIN,
                      label="latency (ms)")
            axis.set_yscale("log")
            axis.set_xlabel("command")
            axis.set_title(f"{label}: {scenario}, pipeline {real_pipeline}")
            if col == 0:
                axis.set_ylabel("latency (ms)")
            if "smr_messages" in result:
                # PBFT's processes: the costs from the validators' message traces.
                costs = axis.twinx()
                costs.plot(commands, result["smr_messages"], color="tab:red", linewidth=THIN,
                           label="SMR cost (messages)")
                costs.plot(commands, result["consensus_messages"], color="tab:blue",
                           linewidth=THIN, label="consensus cost (messages)")
                costs.set_yscale("log")
                if col == len(scenarios) - 1:
                    costs.set_ylabel("messages per command")
                if col == 0:
                    lines = axis.get_lines() + costs.get_lines()
                    axis.legend(lines, [line.get_label() for line in lines], fontsize="small",
                                loc="upper left")
            if "peer_bytes" in result:
                # Peer traffic arrives in batches: a mean over one pipeline's worth of commands.
                values, window = result["peer_bytes"], real_pipeline
                smooth = [sum(values[max(0, i - window + 1):i + 1]) / min(window, i + 1)
                          for i in range(len(values))]
                peer = axis.twinx()
                peer.plot(commands, smooth, color="tab:red", linewidth=THIN,
                          label="peer bytes per command")
                if col == len(scenarios) - 1:
                    peer.set_ylabel("peer bytes per command (mean over a pipeline)")
    fig.tight_layout()
    common.save(fig, folder, "smr-real")
