"""Amphora Python client tests. Prints a closing "N passed, N failed" line after any run."""
import sys
import unittest.runner

_original_run = unittest.runner.TextTestRunner.run


def _run_and_report(self, test):
    result = _original_run(self, test)
    failed = len(result.failures) + len(result.errors) + len(getattr(result, "unexpectedSuccesses", ()))
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    sys.stderr.write("%d passed, %d failed%s\n" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    sys.stderr.flush()
    return result


if not getattr(unittest.runner.TextTestRunner, "_amphora_reports", False):
    unittest.runner.TextTestRunner.run = _run_and_report
    unittest.runner.TextTestRunner._amphora_reports = True
