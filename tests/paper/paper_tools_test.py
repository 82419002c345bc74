"""Unit tests of paper/tools: which run folders the paper takes, the lint of hand-written text,
and how numbers are written. Usage: paper_tools_test.py PAPER_TOOLS_DIR"""
import contextlib
import io
import json
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, sys.argv.pop(1))
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

import check  # noqa: E402
import wording  # noqa: E402
import latex  # noqa: E402
import quantities  # noqa: E402
import generate  # noqa: E402
import runs  # noqa: E402
import tables  # noqa: E402


def make_run(root, name, experiment, ended, summary=None):
    folder = pathlib.Path(root) / name
    (folder / "data").mkdir(parents=True)
    manifest = {"experiment": experiment, "seeds": [1, 2], "runs": 2, "config_hash": "ab" * 32}
    if ended is not None:
        manifest["ended"] = ended
        (folder / "summary.json").write_text(json.dumps(summary or {"runs": 2}))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


class SelectRuns(unittest.TestCase):
    def test_takes_the_newest_finished_folder_and_skips_one_that_did_not_finish(self):
        with tempfile.TemporaryDirectory() as root:
            make_run(root, "exp-scale-a", "scale", "2026-01-01T00:00:00Z")
            newest = make_run(root, "exp-scale-b", "scale", "2026-02-01T00:00:00Z")
            make_run(root, "exp-scale-c", "scale", None)
            chosen = runs.select(["scale"], root, [])
            self.assertEqual(chosen["scale"].folder, newest)

    def test_a_missing_experiment_names_the_command_to_run(self):
        with tempfile.TemporaryDirectory() as root:
            make_run(root, "exp-scale-a", "scale", "2026-01-01T00:00:00Z")
            with self.assertRaises(runs.RunError) as caught:
                runs.select(["scale", "adversaries"], root, [])
            self.assertIn("bftgate experiment run adversaries", str(caught.exception))
            self.assertNotIn("run scale", str(caught.exception))

    def test_a_missing_folder_of_another_tool_names_its_make_target(self):
        with tempfile.TemporaryDirectory() as root:
            with self.assertRaises(runs.RunError) as caught:
                runs.select(["mutation", "spin-model", "search-colluders"], root, [])
            message = str(caught.exception)
            self.assertIn("make mutation", message)
            self.assertEqual(message.count("make robustness"), 1, message)
            self.assertNotIn("bftgate experiment run mutation", message)

    def test_a_subset_run_is_taken_only_when_named(self):
        with tempfile.TemporaryDirectory() as root:
            full = make_run(root, "mutation-a", "mutation", "2026-01-01T00:00:00Z")
            subset = make_run(root, "mutation-b", "mutation", "2026-02-01T00:00:00Z")
            manifest = json.loads((subset / "manifest.json").read_text())
            manifest["size"] = runs.SUBSET
            (subset / "manifest.json").write_text(json.dumps(manifest))
            self.assertEqual(runs.select(["mutation"], root, [])["mutation"].folder, full)
            self.assertEqual(runs.select(["mutation"], root, [subset])["mutation"].folder, subset)

    def test_named_folders_win_and_may_not_name_one_experiment_twice(self):
        with tempfile.TemporaryDirectory() as root:
            old = make_run(root, "exp-scale-a", "scale", "2026-01-01T00:00:00Z")
            other = make_run(root, "exp-scale-b", "scale", "2026-02-01T00:00:00Z")
            self.assertEqual(runs.select(["scale"], root, [old])["scale"].folder, old)
            with self.assertRaises(runs.RunError):
                runs.select(["scale"], root, [old, other])

    def test_a_named_folder_that_did_not_finish_is_refused(self):
        with tempfile.TemporaryDirectory() as root:
            broken = make_run(root, "exp-scale-a", "scale", None)
            with self.assertRaises(runs.RunError):
                runs.select(["scale"], root, [broken])


class Lint(unittest.TestCase):
    def problems(self, text):
        with tempfile.TemporaryDirectory() as root:
            (pathlib.Path(root) / "sections").mkdir()
            (pathlib.Path(root) / "sections" / "s.tex").write_text(text)
            return check.lint(pathlib.Path(root))

    def test_flags_decimals_units_and_measured_counts(self):
        for text in ["took 4.2 units", "took 12 ms", "took 12\\,ms", "served 30\\% of them",
                     "over 2{,}400 runs", "sent 28765 of them", "at 3 seconds"]:
            self.assertTrue(self.problems(text), text)

    def test_allows_years_names_macros_math_and_citations(self):
        text = ("Castro and Liskov~\\cite{castro1999pbft} (1999); seed~000 and seed 004; RFC 8032; "
                "Section~\\ref{sec:evaluation}; $n = 3f+1$, $2f+1$; \\ConvergenceRuns runs; "
                "% a comment with 4.2 ms\n")
        self.assertEqual(self.problems(text), [])

    def test_skips_the_preamble_of_the_main_file_but_not_its_body(self):
        with tempfile.TemporaryDirectory() as root:
            main = pathlib.Path(root) / "bftgate.tex"
            main.write_text("\\usepackage[margin=0.8in]{geometry}\n\\begin{document}\nIt took 0.5 s.\n")
            problems = check.lint(pathlib.Path(root))
            self.assertEqual(len(problems), 2, problems)  # the decimal and the value with a unit
            self.assertTrue(all(p.startswith("bftgate.tex:3:") for p in problems), problems)


class Latex(unittest.TestCase):
    def test_writes_counts_percentages_and_units(self):
        self.assertEqual(latex.count(28765), "28{,}765")
        self.assertEqual(latex.percent(0.3333), "33.3\\,\\%")
        self.assertEqual(latex.ms(4.19), "4.2\\,ms")
        self.assertEqual(latex.escape("a_b&c"), "a\\_b\\&c")

    def test_refuses_what_is_not_a_finite_number_or_a_macro_name(self):
        for bad in [float("nan"), float("inf"), None, True, "3"]:
            with self.assertRaises(ValueError):
                latex.fixed(bad, 2)
        with self.assertRaises(ValueError):
            latex.count(2.5)
        with self.assertRaises(ValueError):
            latex.newcommand("Ratio2", "1")


class Wording(unittest.TestCase):
    NUMBERS = ("\\newcommand{\\Spike}{ranges from 430\\,ms to 430\\,ms\\xspace}\n"
               "\\newcommand{\\Kernel}{Linux 6.1\\xspace}\n"
               "\\newcommand{\\Wall}{1\\xspace}\n"
               "\\newcommand{\\Share}{100.0\\,\\%\\xspace}\n")

    def problems(self, body):
        with tempfile.TemporaryDirectory() as root:
            paper = pathlib.Path(root)
            (paper / "sections").mkdir()
            (paper / "generated").mkdir()
            (paper / "generated" / "numbers.tex").write_text(self.NUMBERS)
            (paper / "sections" / "s.tex").write_text(body)
            return wording.problems(paper)

    def test_flags_what_a_generator_writes_for_degenerate_values(self):
        for body, what in [("The spike \\Spike.", "two ends read the same"),
                           ("on Linux \\Kernel.", "a word twice in a row"),
                           ("In \\Wall minutes the cluster ran.", "a plural after one"),
                           ("ran 300 schedules in 0\\,s on two threads", "a zero duration"),
                           ("of the tail, \\Share had a lossy network in the one run there",
                            "a percentage of a single run"),
                           ("the the protocol", "a word twice in a row")]:
            found = self.problems(body)
            self.assertEqual(len(found), 1, (body, found))
            self.assertIn(what, found[0])

    def test_passes_what_the_formatters_write_instead(self):
        body = ("The spike " + latex.span(430, 430, lambda v: latex.ms(v, 0)) + " and "
                + latex.span(12, 40, lambda v: latex.ms(v, 0)) + "; in " + latex.duration(60)
                + " and " + latex.duration(0) + ", " + latex.plural(1, "run") + " of "
                + latex.plural(3, "run") + "; % from 1 to 1 in a comment\n")
        self.assertEqual(self.problems(body), [])

    def test_durations_take_the_unit_their_size_asks_for(self):
        self.assertEqual(latex.duration(0.42), "420\\,ms")
        self.assertEqual(latex.duration(0), "under 1\\,ms")
        self.assertEqual(latex.duration(3.46), "3.5\\,s")
        self.assertEqual(latex.duration(60), "60\\,s")
        self.assertEqual(latex.duration(150), "2 minutes")
        self.assertEqual(latex.duration(750), "12 minutes")
        self.assertEqual(latex.plural(1, "minute"), "1 minute")


class Quantities(unittest.TestCase):
    def test_a_field_missing_from_a_summary_names_the_macro_and_the_folder(self):
        with tempfile.TemporaryDirectory() as root:
            folders = {e: make_run(root, f"exp-{e}", e, "2026-01-01T00:00:00Z") for e in quantities.experiments()}
            chosen = runs.select(quantities.experiments(), root, list(folders.values()))
            with self.assertRaises(ValueError) as caught:
                quantities.evaluate(chosen)
            self.assertIn("exp-convergence", str(caught.exception))
            self.assertRegex(str(caught.exception), r"\\[A-Z][A-Za-z]+:")


BUG = {"bug": "quorum-off-by-one", "search_found": False, "search_s": 60.1, "tests_found": True,
       "tests_s": 6.2, "first_failing_test": "Replica.X"}


class Robustness(unittest.TestCase):
    def test_a_bug_the_search_missed_shows_a_dash_and_counts_its_test_time(self):
        table = tables.mutation({"bugs": [BUG]})
        self.assertIn(r"\texttt{quorum-off-by-one} & -- & 6.2 & \texttt{Replica.X}", table)
        self.assertEqual(quantities.catch_seconds(BUG), 6.2)
        with self.assertRaises(ValueError):
            quantities.catch_seconds(dict(BUG, tests_found=False))

    def test_a_shrunk_finding_lists_its_faults_by_kind(self):
        scenario = {"mutations": [{"kind": "vote-flip"}, {"kind": "vote-flip"}, {"kind": "drop"}],
                    "round_partitions": [{}], "partitions": [], "crashes": []}
        self.assertEqual(
            tables.faults(scenario),
            r"1$\times$ \texttt{drop}, 1$\times$ \texttt{round partition}, 2$\times$ \texttt{vote-flip}",
        )
        self.assertEqual(tables.faults({}), tables.DASH)

    def test_checking_one_folder_names_the_macro_it_cannot_compute(self):
        with tempfile.TemporaryDirectory() as root:
            folder = make_run(root, "mutation-a", "mutation", "2026-01-01T00:00:00Z",
                              {"bugs": [BUG], "total": 1, "caught": 1, "caught_by_search": 0, "caught_by_tests": 1})
            with self.assertRaises(ValueError) as caught:
                generate.check_folders([folder])
            self.assertIn("MutationSearchBudget", str(caught.exception))
            self.assertIn("mutation-a", str(caught.exception))


def bench_summary():
    """A small bench summary as scripts/run_bench.sh writes it (made-up values)."""
    return {
        "versus_etcd": [
            {"wal": "tmpfs", "bftgate_median_us": 1500.0, "etcd_median_us": 500.0, "latency_ratio_vs_etcd": 3.0,
             "latency_ratio_round_min": 2.5, "latency_ratio_round_max": 3.5, "bftgate_req_per_s": 3000.4,
             "etcd_req_per_s": 15000.0, "throughput_ratio_vs_etcd": 0.2, "throughput_ratio_round_min": 0.15,
             "throughput_ratio_round_max": 0.25},
            {"wal": "disk", "bftgate_median_us": 2000.0, "etcd_median_us": 1600.0, "latency_ratio_vs_etcd": 1.25,
             "latency_ratio_round_min": 1.2, "latency_ratio_round_max": 1.3, "bftgate_req_per_s": 2500.0,
             "etcd_req_per_s": 2000.0, "throughput_ratio_vs_etcd": 1.25, "throughput_ratio_round_min": 1.1,
             "throughput_ratio_round_max": 1.4},
        ],
        "breakdown": [
            {"wal": "disk", "median_us": 2500.0, "p99_us": 7000.0, "fsync_us": 400.0, "to_prepared_us": 800.0,
             "to_committed_us": 1300.0, "to_executed_us": 2000.0, "fsyncs_per_decision_per_validator": 2.5},
            {"wal": "tmpfs", "median_us": 1400.0, "p99_us": 6000.0, "fsync_us": 6.0, "to_prepared_us": 400.0,
             "to_executed_us": 800.0},
        ],
        "ceiling_req_per_s_batch_64": 6000.0,
        "throughput": [
            {"name": "BM_BatchedThroughput/wal_tmpfs:0", "wal": "disk", "req_per_s": 2400.0, "ratio_to_ceiling": 0.4},
            {"name": "BM_BatchedThroughput/wal_tmpfs:1", "wal": "tmpfs", "req_per_s": 3000.0, "ratio_to_ceiling": 0.5},
        ],
        "simulator_deliveries_per_s": {"BM_SimulatorDeliveries/n:16/real_time": 1.0e6,
                                       "BM_SimulatorDeliveries/n:4/real_time": 2.0e6,
                                       "BM_SimulatorDeliveries/n:40/real_time": 3.0e6},
        "targets": {"latency_ratio_vs_etcd": {"bound": 1.5, "sense": "<="},
                    "throughput_ratio_vs_etcd": {"bound": 1.0, "sense": ">="}},
        "off_target": [],
    }


def bench_summary_with_sessions():
    """The same summary as the benchmark script writes it since it runs MAC client sessions too:
    every row says how its client authenticated, and the sessions add rows and a ceiling of their
    own (made-up values)."""
    s = bench_summary()
    for key in ("versus_etcd", "breakdown", "throughput"):
        for r in s[key]:
            r["auth"] = "signed"
    s["versus_etcd"] = [
        {"wal": "tmpfs", "auth": "mac", "bftgate_median_us": 700.0, "etcd_median_us": 500.0,
         "latency_ratio_vs_etcd": 1.4, "latency_ratio_round_min": 1.3, "latency_ratio_round_max": 1.5,
         "bftgate_req_per_s": 16000.0, "etcd_req_per_s": 15000.0, "throughput_ratio_vs_etcd": 1.07,
         "throughput_ratio_round_min": 1.0, "throughput_ratio_round_max": 1.1},
        {"wal": "disk", "auth": "mac", "bftgate_median_us": 1600.0, "etcd_median_us": 1600.0,
         "latency_ratio_vs_etcd": 1.0, "latency_ratio_round_min": 0.9, "latency_ratio_round_max": 1.1,
         "bftgate_req_per_s": 5000.0, "etcd_req_per_s": 6000.0, "throughput_ratio_vs_etcd": 0.8,
         "throughput_ratio_round_min": 0.7, "throughput_ratio_round_max": 0.9},
    ] + s["versus_etcd"]
    s["breakdown"].append(
        {"wal": "disk", "auth": "mac", "median_us": 1900.0, "p99_us": 5000.0, "fsync_us": 410.0,
         "to_prepared_us": 700.0, "to_committed_us": 1100.0, "to_executed_us": 1500.0,
         "fsyncs_per_decision_per_validator": 2.5})
    s["ceiling_req_per_s_batch_64_mac"] = 20000.0
    s["throughput"] += [
        {"name": "BM_BatchedThroughput/wal_tmpfs:0/mac:1", "wal": "disk", "auth": "mac", "req_per_s": 14000.0,
         "ratio_to_ceiling": 0.7},
        {"name": "BM_BatchedThroughput/wal_tmpfs:1/mac:1", "wal": "tmpfs", "auth": "mac", "req_per_s": 18000.0,
         "ratio_to_ceiling": 0.9},
    ]
    return s


def bench_folder(root, summary):
    folder = pathlib.Path(root) / "bench-a"
    (folder / "data").mkdir(parents=True)
    manifest = {"experiment": "bench", "git_revision": "abc", "started": "2026-01-01T00:00:00Z",
                "ended": "2026-01-01T00:10:00Z", "wall_s": 600.0, "size": "all",
                "config": {"filter": ".", "min_time_s": 0.3, "build_dir": "build/release"},
                "host": {"cores": 2, "cpu": "a CPU", "kernel": "6.1"}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "data" / "bench.jsonl").write_text("")
    return folder


# The bench macros that need MAC client sessions.
MAC_MACROS = {"BenchLatencyRatioDiskMac", "BenchLatencyRatioTmpfsMac", "BenchThroughputRatioDiskMac",
              "BenchThroughputRatioTmpfsMac", "BenchMacSpeedupDisk", "BenchTargetsMac",
              "BenchCeilingMac", "BenchCeilingRatioBestMac"}


def check_quietly(folders):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        generate.check_folders(folders)


class Bench(unittest.TestCase):
    def values(self, summary, only_signed=False):
        """The bench macros from a folder with this summary; with only_signed, those that do not
        need MAC sessions (computed one by one, so that the MAC ones may fail)."""
        with tempfile.TemporaryDirectory() as root:
            run = runs.Run(bench_folder(root, summary))
            if not only_signed:
                return {name: value for name, value, _ in quantities.evaluate({"bench": run}, only={"bench"})}
            values = {}
            for name, experiment, compute, write in quantities.QUANTITIES:
                if experiment == "bench" and name not in MAC_MACROS:
                    source = run.manifest if getattr(compute, "from_manifest", False) else run.summary
                    values[name] = write(compute(source))
            return values

    def test_the_etcd_table_has_one_row_per_wal_with_the_ratios_round_ranges(self):
        table = tables.versus_etcd(bench_summary())
        rows = [line for line in table.splitlines() if line.startswith(("disk", "tmpfs"))]
        self.assertEqual(rows, [
            r"disk & signed & 2.00 & 1.60 & 1.25 (1.20--1.30) & 2{,}500 & 2{,}000 & 1.25 (1.10--1.40) \\",
            r"tmpfs & signed & 1.50 & 0.50 & 3.00 (2.50--3.50) & 3{,}000 & 15{,}000 & 0.20 (0.15--0.25) \\",
        ])
        self.assertIn(r"WAL & client & bftgate (ms)", table)

    def test_the_breakdown_table_shows_a_dash_for_what_a_validator_did_not_report(self):
        table = tables.breakdown(bench_summary())
        self.assertIn(r"disk & signed & 400 & 800 & 1{,}300 & 2{,}000 & 2{,}500 & 2.50 \\", table)
        self.assertIn(r"tmpfs & signed & 6 & 400 & -- & 800 & 1{,}400 & -- \\", table)
        self.assertIn(r"WAL & client & fdatasync", table)

    def test_the_tables_have_a_row_per_wal_and_client_signed_ones_first(self):
        table = tables.versus_etcd(bench_summary_with_sessions())
        rows = [line for line in table.splitlines() if line.startswith(("disk", "tmpfs"))]
        self.assertEqual([tuple(line.split(" & ")[:2]) for line in rows],
                         [("disk", "signed"), ("tmpfs", "signed"), ("disk", "MAC"), ("tmpfs", "MAC")])
        self.assertEqual(rows[2], r"disk & MAC & 1.60 & 1.60 & 1.00 (0.90--1.10) & 5{,}000 & 6{,}000 & 0.80 (0.70--0.90) \\")
        table = tables.breakdown(bench_summary_with_sessions())
        rows = [line for line in table.splitlines() if line.startswith(("disk", "tmpfs"))]
        self.assertEqual([tuple(line.split(" & ")[:2]) for line in rows],
                         [("disk", "signed"), ("tmpfs", "signed"), ("disk", "MAC")])
        self.assertEqual(rows[2], r"disk & MAC & 410 & 700 & 1{,}100 & 1{,}500 & 1{,}900 & 2.50 \\")

    def test_rows_are_chosen_by_wal_and_client_and_a_row_without_auth_is_signed(self):
        summary = bench_summary_with_sessions()
        self.assertEqual(quantities.bench_field(summary, "versus_etcd", "disk", "latency_ratio_vs_etcd"), 1.25)
        self.assertEqual(quantities.bench_field(summary, "versus_etcd", "disk", "latency_ratio_vs_etcd", "mac"), 1.0)
        self.assertEqual(quantities.bench_field(summary, "versus_etcd", "tmpfs", "bftgate_req_per_s", "mac"), 16000.0)
        self.assertEqual([r["wal"] for r in quantities.bench_rows(summary, "versus_etcd", "mac")], ["disk", "tmpfs"])
        self.assertEqual([(quantities.bench_auth(r), r["wal"]) for r in quantities.bench_rows(summary, "versus_etcd")],
                         [("signed", "disk"), ("signed", "tmpfs"), ("mac", "disk"), ("mac", "tmpfs")])
        old = bench_summary()  # as written before the sessions: no "auth"
        self.assertEqual(quantities.bench_row(old, "versus_etcd", "disk"), old["versus_etcd"][1])
        self.assertEqual(quantities.bench_rows(old, "throughput", "signed"), old["throughput"])
        # The signed numbers are the same whether the rows say "signed" or nothing, MAC rows or not.
        before, after = self.values(old, only_signed=True), self.values(summary)
        self.assertTrue(before)
        self.assertEqual({name: after[name] for name in before}, before)

    def test_the_numbers_come_from_the_summary_and_its_targets(self):
        values = self.values(bench_summary_with_sessions())
        self.assertEqual(values["BenchLatencyRatioDisk"], r"1.25$\times$")
        self.assertEqual(values["BenchThroughputRatioTmpfs"], r"0.20$\times$")
        self.assertEqual(values["BenchLatencyTarget"], r"1.50$\times$")
        self.assertEqual(values["BenchThroughputTarget"], r"1.00$\times$")
        self.assertEqual(values["BenchFsyncsPerDecisionDisk"], "2.5")
        self.assertEqual(values["BenchFsyncShareDisk"], r"50\,\%")  # 2.5 x 400 us of 2000 us
        self.assertEqual(values["BenchCeilingRatioBest"], r"50\,\%")
        self.assertEqual(values["BenchSimulatorDeliveries"], "2{,}000{,}000")  # n:4, not n:40
        self.assertEqual(values["BenchCores"], "2")
        # Disk meets both targets, tmpfs neither: one clause, not the verdict twice.
        self.assertEqual(values["BenchTargets"], "both targets are met only with the log on disk")

    def test_the_mac_numbers_come_from_the_mac_rows_and_their_own_ceiling(self):
        values = self.values(bench_summary_with_sessions())
        self.assertEqual(values["BenchLatencyRatioDiskMac"], r"1.00$\times$")
        self.assertEqual(values["BenchLatencyRatioTmpfsMac"], r"1.40$\times$")
        self.assertEqual(values["BenchThroughputRatioDiskMac"], r"0.80$\times$")
        self.assertEqual(values["BenchThroughputRatioTmpfsMac"], r"1.07$\times$")
        self.assertEqual(values["BenchMacSpeedupDisk"], r"2.00$\times$")  # 5000 over 2500 req/s
        self.assertEqual(values["BenchCeilingMac"], "20{,}000")
        self.assertEqual(values["BenchCeilingRatioBestMac"], r"90\,\%")
        # The signed ones ignore the MAC rows: their best is 50 %, not the sessions' 90 %.
        self.assertEqual(values["BenchCeiling"], "6{,}000")
        self.assertEqual(values["BenchCeilingRatioBest"], r"50\,\%")
        self.assertEqual(values["BenchTargets"], "both targets are met only with the log on disk")
        self.assertEqual(values["BenchTargetsMac"],
                         "the latency target is met and the throughput target is met only with the log on tmpfs")
        self.assertEqual(MAC_MACROS, {n for n in values if "Mac" in n})

    def test_a_folder_without_mac_sessions_names_make_bench(self):
        old = bench_summary()  # recorded before make bench ran sessions
        filtered = bench_summary_with_sessions()  # sessions filtered out of the run
        filtered["versus_etcd"] = [r for r in filtered["versus_etcd"] if r["auth"] == "signed"]
        filtered["breakdown"] = [r for r in filtered["breakdown"] if r["auth"] == "signed"]
        filtered["throughput"] = [r for r in filtered["throughput"] if r["auth"] == "signed"]
        del filtered["ceiling_req_per_s_batch_64_mac"]
        for summary, before in ((old, True), (filtered, False)):
            for name, _, compute, _ in quantities.QUANTITIES:
                if name in MAC_MACROS:
                    with self.assertRaises(ValueError, msg=name) as caught:
                        compute(summary)
                    self.assertIn("make bench", str(caught.exception), name)
                    self.assertEqual("recorded before" in str(caught.exception), before and name != "BenchCeilingMac", name)
            with tempfile.TemporaryDirectory() as root:
                with self.assertRaises(ValueError) as caught:
                    check_quietly([bench_folder(root, summary)])
                self.assertIn("make bench", str(caught.exception))
                self.assertIn("MAC client sessions", str(caught.exception))
                self.assertRegex(str(caught.exception), r"\\Bench[A-Za-z]+Mac:")
        # A MAC row that lacks one WAL placement names it.
        missing = bench_summary_with_sessions()
        missing["versus_etcd"] = [r for r in missing["versus_etcd"] if (r["auth"], r["wal"]) != ("mac", "tmpfs")]
        with self.assertRaises(ValueError) as caught:
            quantities.bench_field(missing, "versus_etcd", "tmpfs", "latency_ratio_vs_etcd", "mac")
        self.assertIn("WAL on tmpfs and MAC client sessions", str(caught.exception))
        self.assertIn("make bench", str(caught.exception))

    def test_the_verdicts_follow_the_targets_in_the_summary(self):
        summary = bench_summary_with_sessions()
        summary["targets"]["latency_ratio_vs_etcd"]["bound"] = 4.0
        summary["targets"]["throughput_ratio_vs_etcd"]["bound"] = 2.0
        values = self.values(summary)
        self.assertEqual(values["BenchTargets"], "the latency target is met and the throughput target is missed")
        self.assertEqual(values["BenchTargetsMac"], values["BenchTargets"])
        self.assertEqual(values["BenchLatencyTarget"], r"4.00$\times$")

    def test_a_run_without_etcd_names_make_bench(self):
        summary = bench_summary()
        summary["versus_etcd"] = []
        with self.assertRaises(ValueError) as caught:
            tables.versus_etcd(summary)
        self.assertIn("make bench", str(caught.exception))
        with tempfile.TemporaryDirectory() as root:
            folder = bench_folder(root, summary)
            with self.assertRaises(ValueError) as caught:
                check_quietly([folder])
            self.assertIn("make bench", str(caught.exception))
            self.assertIn("bench-a", str(caught.exception))
            self.assertRegex(str(caught.exception), r"\\Bench[A-Za-z]+:")

    def test_a_missing_table_field_names_the_table_and_the_folder(self):
        summary = bench_summary()
        del summary["breakdown"]
        with tempfile.TemporaryDirectory() as root:
            folder = bench_folder(root, summary)
            chosen = {"bench": runs.Run(folder)}
            with self.assertRaises(ValueError) as caught:
                generate.write_table("breakdown", ("bench",), tables.breakdown, chosen)
            self.assertIn("table breakdown", str(caught.exception))
            self.assertIn("bench-a", str(caught.exception))
            self.assertIn("make bench", str(caught.exception))

    def test_a_missing_wal_placement_or_simulator_size_names_make_bench(self):
        summary = bench_summary()
        summary["versus_etcd"] = [r for r in summary["versus_etcd"] if r["wal"] == "tmpfs"]
        summary["simulator_deliveries_per_s"] = {"BM_SimulatorDeliveries/n:40/real_time": 1.0}
        with self.assertRaises(ValueError) as caught:
            quantities.bench_field(summary, "versus_etcd", "disk", "latency_ratio_vs_etcd")
        self.assertIn("make bench", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            quantities.bench_simulator(summary, 4)
        self.assertIn("make bench", str(caught.exception))
        summary["ceiling_req_per_s_batch_64"] = None
        summary["throughput"] = [dict(r, ratio_to_ceiling=None) for r in summary["throughput"]]
        with self.assertRaises(ValueError) as caught:
            quantities.bench_ceiling_best(summary)
        self.assertIn("make bench", str(caught.exception))

    def test_a_missing_bench_folder_names_make_bench(self):
        with tempfile.TemporaryDirectory() as root:
            with self.assertRaises(runs.RunError) as caught:
                runs.select(["bench"], root, [])
            self.assertIn("make bench", str(caught.exception))


class RecordedFixtures(unittest.TestCase):
    """The run folders recorded for the paper test (tests/paper/fixtures) give the paper every
    number and table it takes from them."""

    def test_the_mutation_folder(self):
        check_quietly([FIXTURES / "mutation"])

    def test_the_bench_folder(self):
        folder = FIXTURES / "bench"
        if not (folder / "manifest.json").is_file():
            self.skipTest(f"no {folder}: record one with make bench")
        summary = json.loads((folder / "summary.json").read_text())
        if not any("auth" in r for r in summary.get("versus_etcd") or []):
            self.fail(f"{folder} was recorded before make bench ran MAC client sessions (its rows have no "
                      f"auth): record a new one with make bench (no filter, etcd-server installed)")
        check_quietly([folder])


if __name__ == "__main__":
    unittest.main(verbosity=2)
