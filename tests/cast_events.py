"""Reads an asciicast v2 file the way asciinema 2.2 does and prints it for
tests/recording_test.cc, one line per item, text as hex of its UTF-8:

    header WIDTH HEIGHT TIMESTAMP HEX(TITLE) HEX(ENV TERM)
    CODE TIME HEX(DATA)            (one line per event, CODE o, i or m)

Exits 1, saying why, when the file is not what asciinema accepts: a header
that is not version 2 with integer width and height, an event that is not
[number, string, string], times going backwards, a line that is not JSON.
"""

import json
import sys


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main(path):
    # As asciinema opens a local file: text, UTF-8, universal newlines.
    with open(path, mode="rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
        if header.get("version") != 2:
            fail("not version 2: %r" % header)
        if not isinstance(header.get("width"), int) or not isinstance(
            header.get("height"), int
        ):
            fail("width and height must be integers: %r" % header)
        if not isinstance(header.get("timestamp"), int):
            fail("timestamp must be an integer: %r" % header)
        print(
            "header %d %d %d %s %s"
            % (
                header["width"],
                header["height"],
                header["timestamp"],
                header.get("title", "").encode().hex(),
                header.get("env", {}).get("TERM", "").encode().hex(),
            )
        )
        last = 0.0
        for number, line in enumerate(f, start=2):
            event = json.loads(line)
            if (
                not isinstance(event, list)
                or len(event) != 3
                or not isinstance(event[0], (int, float))
                or not isinstance(event[1], str)
                or not isinstance(event[2], str)
            ):
                fail("line %d is not [time, code, data]: %r" % (number, event))
            time, code, data = event
            if time < last:
                fail("line %d goes back in time: %r after %r" % (number, time, last))
            last = time
            print("%s %.6f %s" % (code, time, data.encode().hex()))


if __name__ == "__main__":
    main(sys.argv[1])
