"""scale: messages and bytes per decision against n (simulator), certificate size and
verification time against n (real Ed25519), and certification latency against n (simulator and
real processes)."""
import common

folder = common.run_dir()
summary = common.summary(folder)
sim = summary["sim"]
certificates = summary["certificates"]
real = summary["real"]
KIB = 1 << 10

fig, axes = common.plt.subplots(1, 3, figsize=(15, 4.2))  # style
ns = [r["validators"] for r in sim]
left = axes[0]
left.plot(ns, [r["messages_per_decision"] for r in sim], marker="o", label="messages / decision")
left.set_xscale("log")
left.set_yscale("log")
left.set_xlabel("validators n")
left.set_ylabel("messages per decision")
kilobytes = left.twinx()
kilobytes.plot(ns, [r["bytes_per_decision"] / KIB for r in sim], marker="s", color="tab:orange",
               label="KiB / decision")
kilobytes.set_yscale("log")
kilobytes.set_ylabel("KiB per decision")
lines = left.get_lines() + kilobytes.get_lines()
left.legend(lines, [line.get_label() for line in lines], fontsize="small")
left.set_title("simulator: cost of a decision")

middle = axes[1]
cn = [c["validators"] for c in certificates]
middle.plot(cn, [c["certificate_bytes"] for c in certificates], marker="o", label="bytes")
middle.set_xlabel("validators n")
middle.set_ylabel("certificate bytes (binary)")
verify = middle.twinx()
verify.plot(cn, [c["verify_us"] for c in certificates], marker="s", color="tab:orange",
            label="verify (us)")
verify.plot(cn, [c["raw_signatures_us"] for c in certificates], linestyle="--", color="tab:red",
            label="its signatures alone (us)")
verify.set_ylabel("microseconds")
lines = middle.get_lines() + verify.get_lines()
middle.legend(lines, [line.get_label() for line in lines], fontsize="small")
middle.set_title("certificate: 2f+1 Ed25519 signatures")

right = axes[2]
right.plot(ns, [r["certification_latency_p50_s"] for r in sim], marker="o",
           label="simulator (1-5 ms links)")
rn = [r["validators"] for r in real]
right.plot(rn, [r["certification_latency_p50_s"] for r in real], marker="s",
           label="real processes, loopback")
right.plot(rn, [r["sim_certification_latency_p50_s"] for r in real], marker="^", linestyle="--",
           label="simulator, loopback")
right.set_xscale("log")
right.set_xlabel("validators n")
right.set_ylabel("certification latency, median (s)")
right.legend(fontsize="small")
right.set_title("certification latency")
fig.tight_layout()
common.save(fig, folder, "scale")
