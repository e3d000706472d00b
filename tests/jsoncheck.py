#!/usr/bin/python3
"""jsoncheck.py: is a capture of hostca's stdout one valid --json document?

    jsoncheck.py [--schema F] [--exit N] [--command "ca show"] [--all] FILE
    jsoncheck.py [--schema F] --batch LIST

FILE (- for stdin) holds everything one `hostca --json ...` run printed on
stdout. It must be exactly one JSON document (UTF-8, no duplicate keys, no
NaN; nothing but white space around it) that validates against
schema/hostca.schema.json (JSON Schema draft 2020-12, Debian's
python3-jsonschema). --exit N: its "exit" is N, the status the process
really exited with. --command C: its "command" is C.

On failure: one line saying why on stdout (every schema error, one a line,
with --all), exit 1. Exit 2: bad arguments or an unreadable schema.

--batch LIST checks many captures with one start-up: each line of LIST is
DESC<TAB>EXIT<TAB>COMMAND<TAB>FILE (EXIT or COMMAND "-": not checked); one
line per capture is printed, "ok<TAB>DESC" or "FAIL<TAB>DESC<TAB>reason".
"""
import json
import os
import sys

try:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
except ImportError:
    print("jsoncheck: python3-jsonschema is not installed (make deps)")
    sys.exit(2)

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema",
                      "hostca.schema.json")


class Bad(Exception):
    pass


def no_dups(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise Bad("key %r appears twice in one object" % k)
        d[k] = v
    return d


def no_constant(name):
    raise Bad("%s is not JSON" % name)


def parse_one(data):
    """The one JSON document in data (bytes), or Bad."""
    if not data.strip():
        raise Bad("nothing on stdout")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Bad("stdout is not UTF-8 (byte %d)" % e.start)
    dec = json.JSONDecoder(object_pairs_hook=no_dups, parse_constant=no_constant)
    start = len(text) - len(text.lstrip())  # leading white space is harmless
    try:
        doc, end = dec.raw_decode(text, start)
    except json.JSONDecodeError as e:
        first = text.strip().splitlines()[0][:60] if text.strip() else ""
        raise Bad("not JSON (%s at line %d column %d): %r" % (e.msg, e.lineno, e.colno, first))
    rest = text[end:]
    if rest.strip() and not isinstance(doc, (dict, list)):
        raise Bad("not JSON: %r" % text.strip().splitlines()[0][:60])
    if rest.strip():
        raise Bad("more than one document: after the first comes %r" % rest.strip()[:60])
    return doc


def where(err):
    p = "".join("[%d]" % x if isinstance(x, int) else "." + str(x) for x in err.absolute_path)
    return p.lstrip(".") or "(document)"


def short(v, n=60):
    t = json.dumps(v, ensure_ascii=False)
    return t if len(t) <= n else t[:n - 3] + "..."


def say(err):
    """err's message, without a copy of a whole object in it."""
    v, val = err.validator, err.validator_value
    if v == "not" and isinstance(val, dict) and list(val) == ["required"]:
        return "%s must not be present" % ", ".join(repr(k) for k in val["required"])
    if v == "not":
        return "%s must not match %s" % (short(err.instance), short(val))
    if v == "type":
        return "%s is not of type %s" % (short(err.instance), short(val))
    if v in ("required", "additionalProperties", "unevaluatedProperties", "propertyNames"):
        return err.message[:200]
    if len(err.message) > 200:
        return "%s fails %s: %s" % (short(err.instance), v, short(val))
    return err.message


ENVELOPE = ("schema_version", "command", "ok", "exit")


def rank(err):
    # The envelope first (without it nothing else is meant); then the
    # deepest; an "unevaluated" complaint last (a payload key that fails its
    # own schema is "unevaluated" too).
    envelope = not err.absolute_path and (
        err.validator == "required" and err.validator_value == list(ENVELOPE)
        or err.validator == "type")
    return (not envelope, err.validator == "unevaluatedProperties", -len(err.absolute_path))


def leaves(err):
    """The innermost errors under err (the ones that say what is wrong)."""
    if not err.context:
        return [err]
    out = []
    for e in err.context:
        out.extend(leaves(e))
    return out


def schema_errors(validator, doc):
    errs = []
    for e in validator.iter_errors(doc):
        errs.extend(leaves(e))
    seen, out = set(), []
    for e in sorted(errs, key=rank):
        line = "%s: %s" % (where(e), say(e))
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


def check(validator, path, want_exit=None, want_command=None, every=False):
    """[] when the capture is good, else the reasons."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        return ["cannot read %s: %s" % (path, e.strerror)]
    try:
        doc = parse_one(data)
    except Bad as e:
        return [str(e)]
    if not isinstance(doc, dict):
        return ["the document is a JSON %s, not an object" % type(doc).__name__]
    reasons = schema_errors(validator, doc)
    if len(reasons) > 1 and not every:
        reasons = ["%s (+%d more)" % (reasons[0], len(reasons) - 1)]
    # (a missing "command" or "exit" is the schema's complaint already)
    if want_command is not None and "command" in doc and doc["command"] != want_command:
        reasons.append("command is %s, want %r" % (json.dumps(doc["command"]), want_command))
    if want_exit is not None and "exit" in doc and doc["exit"] != want_exit:
        reasons.append("\"exit\" is %s but the process exited %d" % (json.dumps(doc["exit"]), want_exit))
    return reasons


def load_validator(path):
    try:
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError) as e:
        print("jsoncheck: schema %s: %s" % (path, e))
        sys.exit(2)
    except SchemaError as e:
        print("jsoncheck: schema %s is not valid draft 2020-12: %s" % (path, str(e).splitlines()[0]))
        sys.exit(2)
    return Draft202012Validator(schema)


def usage():
    print("usage: " + "\n       ".join(l.strip() for l in __doc__.strip().splitlines()[2:4]))
    sys.exit(2)


def main(argv):
    schema, want_exit, want_command, every, batch, files = SCHEMA, None, None, False, None, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--schema", "--exit", "--command", "--batch"):
            if i + 1 >= len(argv):
                usage()
            v = argv[i + 1]
            i += 2
            if a == "--schema":
                schema = v
            elif a == "--exit":
                if not v.isdigit():
                    usage()
                want_exit = int(v)
            elif a == "--command":
                want_command = v
            else:
                batch = v
            continue
        if a == "--all":
            every = True
        elif a.startswith("-") and a != "-":
            usage()
        else:
            files.append(a)
        i += 1
    validator = load_validator(schema)
    if batch is not None:
        if files:
            usage()
        bad = 0
        with open(batch, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                desc, ex, cmd, path = line.split("\t")
                r = check(validator, path, None if ex == "-" else int(ex),
                          None if cmd == "-" else cmd, every=every)
                if r:
                    bad += 1
                    print("FAIL\t%s\t%s" % (desc, "; ".join(r).replace("\t", " ").replace("\n", " ")))
                else:
                    print("ok\t%s" % desc)
        return 1 if bad else 0
    if len(files) != 1:
        usage()
    r = check(validator, files[0], want_exit, want_command, every)
    if r:
        print("\n".join(r) if every else "; ".join(r))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
