"""exposure: requests served by a bad adapter, mixed-version time and time to full rollout per
release strategy and number of Byzantine validators."""
import collections

import common

folder = common.run_dir()
records = common.records(folder, "exposure")
strategies = ["rolling", "canary", "vaidyanathan", "bftgate"]
byzantine = sorted({r["params"]["byzantine"] for r in records})
values = collections.defaultdict(lambda: collections.defaultdict(list))
for r in records:
    key = (r["params"]["strategy"], r["params"]["byzantine"])
    values["bad_request_fraction"][key].append(r["result"]["bad_request_fraction"])
    values["mixed_version_fraction"][key].append(r["result"]["mixed_version_fraction"])
    if r["result"]["rollout_s"].get("count", 0):
        values["rollout_s"][key].append(r["result"]["rollout_s"]["mean"])


def mean(xs):
    return sum(xs) / len(xs) if xs else 0


panels = (("bad_request_fraction", "requests served by a bad adapter"),
          ("mixed_version_fraction", "time with mixed versions served"),
          ("rollout_s", "time to full rollout (s)"))
fig, axes = common.plt.subplots(1, len(panels), figsize=(14, 4))  # style
width = 1 / (len(byzantine) + 1)
for axis, (metric, label) in zip(axes, panels):
    for k, b in enumerate(byzantine):
        xs = [i + k * width for i in range(len(strategies))]
        axis.bar(xs, [mean(values[metric][(s, b)]) for s in strategies], width,
                 label=f"{b} Byzantine")
    axis.set_xticks([i + width * (len(byzantine) - 1) / 2 for i in range(len(strategies))])
    axis.set_xticklabels(strategies)
    axis.set_title(label)
axes[0].legend(fontsize="small")
fig.tight_layout()
common.save(fig, folder, "exposure")
