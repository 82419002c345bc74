"""adversaries: heatmaps over (strategy, number of Byzantine validators), one panel per fault
model (rows) and cluster size (columns): the fraction of unsafe runs (the bad adapter
certified, or a simulator invariant broken: for CFT, its own f+1 honest PASS votes per
certificate), of runs certifying the bad adapter, the median certification
latency, and the messages per decision. The dashed line marks f, the BFT tolerance."""
import common

folder = common.run_dir()
cells = common.summary(folder)["cells"]
sizes = sorted({c["validators"] for c in cells})
modes = ["bft", "cft"]
strategies = sorted({c["strategy"] for c in cells if c["strategy"] != "none"})
SHADE = 0.5  # style


def grid(n, mode, metric):
    """Rows: strategies; columns: Byzantine count 0..f+1 (0 has one run, shown for every row)."""
    f = next(c["f"] for c in cells if c["validators"] == n)
    values = [[float("nan")] * (f + 2) for _ in strategies]
    for c in cells:
        if c["validators"] != n or c["mode"] != mode:
            continue
        rows = range(len(strategies)) if c["strategy"] == "none" else [
            strategies.index(c["strategy"])]
        for row in rows:
            values[row][c["byzantine"]] = metric(c)
    return f, values


def draw(name, title, metric, fmt, cmap):
    fig, axes = common.plt.subplots(len(modes), len(sizes), squeeze=False,
                                    figsize=(4.2 * len(sizes), 3.6 * len(modes)))  # style
    for row, mode in enumerate(modes):
        for col, n in enumerate(sizes):
            axis = axes[row][col]
            f, values = grid(n, mode, metric)
            image = axis.imshow(values, aspect="auto", cmap=cmap)
            for i, line in enumerate(values):
                for j, value in enumerate(line):
                    if value == value:
                        axis.text(j, i, format(value, fmt), ha="center", va="center",
                                  fontsize="x-small")
            axis.axvline(f + SHADE, color="k", linestyle="--", linewidth=1)
            axis.set_xticks(range(f + 2))
            axis.set_xlabel("Byzantine validators")
            axis.set_yticks(range(len(strategies)))
            axis.set_yticklabels(strategies if col == 0 else [])
            axis.set_title(f"{mode.upper()}, n = {n} (f = {f})")
            fig.colorbar(image, ax=axis)
    fig.suptitle(title)
    fig.tight_layout()
    common.save(fig, folder, name)


draw("adversaries-safety", "fraction of runs unsafe (bad adapter certified or invariant broken)",
     lambda c: c["unsafe_runs"] / c["runs"], ".2f", "Reds")
draw("adversaries-bad-certified", "fraction of runs in which the bad adapter was certified",
     lambda c: c["bad_certified_runs"] / c["runs"], ".2f", "Reds")
draw("adversaries-latency", "certification latency of the good adapters, median (s)",
     lambda c: c["certification_latency_p50_s"], ".2f", "viridis")
draw("adversaries-messages", "messages per decision, median",
     lambda c: c["messages_per_decision"], ".0f", "viridis")
