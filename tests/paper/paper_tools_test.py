"""Unit tests of paper/tools: which run folders the paper takes, the lint of hand-written text,
and how numbers are written. Usage: paper_tools_test.py PAPER_TOOLS_DIR"""
import json
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, sys.argv.pop(1))

import check  # noqa: E402
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
