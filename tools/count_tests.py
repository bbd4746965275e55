"""Counts test cases from Bazel's test.xml files.

Usage: count_tests.py TESTLOGS_DIR LABEL...
Prints "N passed, N failed" and exits 1 when anything failed or no test
ran. A target without a test.xml (it did not build or did not run) counts
as one failure, so a broken build can never look green.
"""

import os
import sys
import xml.etree.ElementTree as ET


def count(testlogs, labels):
    passed = failed = 0
    for label in labels:
        package, _, name = label.lstrip("/").partition(":")
        xml_path = os.path.join(testlogs, package, name, "test.xml")
        try:
            root = ET.parse(xml_path).getroot()
        except (OSError, ET.ParseError):
            print(f"{label}: no test results", file=sys.stderr)
            failed += 1
            continue
        cases = root.iter("testcase")
        target_cases = 0
        for case in cases:
            target_cases += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                print(f"FAILED {label}: {case.get('classname', '')}.{case.get('name', '')}",
                      file=sys.stderr)
            elif case.get("result") == "suppressed" or case.get("status") == "notrun":
                continue
            else:
                passed += 1
        if target_cases == 0:
            # A test binary that is not GoogleTest: Bazel's own record of
            # its exit status.
            suite = root.find("testsuite")
            errors = int((suite if suite is not None else root).get("errors", "0"))
            failures = int((suite if suite is not None else root).get("failures", "0"))
            if errors or failures:
                failed += 1
                print(f"FAILED {label}", file=sys.stderr)
            else:
                passed += 1
    return passed, failed


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    passed, failed = count(sys.argv[1], sys.argv[2:])
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
