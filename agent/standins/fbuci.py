"""Stand-in for OpenWRT's `uci` CLI on Debian test hosts (the `uci` launcher runs main()).

Implements the subset the agent uses, on real uci-format files: -c, -t, -p, -q, -n/-N, -X, -d,
-f; get, show, set, add, delete, add_list, del_list, rename, commit, revert, changes, export,
import, batch. Grammar, output formats, delta files (the save directory), error messages and exit
codes follow the behaviour of openwrt/uci (cli.c, file.c, list.c, delta.c); written from scratch.
"""
import os
import sys

CONFDIR = "/etc/config"
SAVEDIR = "/tmp/.uci"

ERR_INVAL = "Invalid argument"
ERR_NOTFOUND = "Entry not found"
ERR_IO = "I/O error"
ERR_PARSE = "Parse error"
ERR_DUP = "Duplicate entry"


class UciError(Exception):
    def __init__(self, msg, detail=""):
        super().__init__(msg)
        self.msg = msg
        self.detail = detail


def parse_error(reason, line, byte):
    return UciError(ERR_PARSE, " (%s) at line %d, byte %d" % (reason, line, byte))


# ---------------------------------------------------------------- validation (util.c rules)

def _isalnum(c):
    return c < 128 and (chr(c).isalnum())


def validate_str(s, name, package):
    if not s:
        return False
    for c in s.encode("utf-8", "surrogateescape"):
        if _isalnum(c) or c == ord("_"):
            continue
        if c == ord("-") and package:
            continue
        if name or c < 33 or c > 126:
            return False
    return True


def validate_package(s):
    return validate_str(s, False, True)


def validate_name(s):
    return validate_str(s, True, False)


def validate_type(s):
    return validate_str(s, False, False)


def validate_text(s):
    for c in s.encode("utf-8", "surrogateescape"):
        if c < 32 and c not in (9, 10, 13):
            return False
    return True


# ---------------------------------------------------------------- data model

class Section:
    def __init__(self, stype, name, anonymous):
        self.type = stype
        self.name = name
        self.anonymous = anonymous
        self.options = {}  # name -> str | list[str]; dicts keep insertion order


class Package:
    def __init__(self, name):
        self.name = name
        self.sections = []
        self.n_section = 0
        self.delta = []  # new changes made by this invocation: (cmd, section, option, value)
        self.saved_delta = []  # changes replayed from delta files

    def find(self, name):
        for s in self.sections:
            if s.name == name:
                return s
        return None


def djbhash(h, s):
    if h == 0xFFFFFFFF:
        h = 5381
    for b in s.encode("utf-8", "surrogateescape"):
        if b >= 128:  # char is signed on the targets uci runs on
            b -= 256
        h = (h * 33 + b) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


def alloc_section(p, stype, name, index=None):
    anonymous = not name
    s = Section(stype, name, anonymous)
    p.n_section += 1
    if index is None:
        p.sections.append(s)
    else:
        p.sections.insert(index, s)
    if anonymous:
        h = djbhash(0xFFFFFFFF, stype)
        s.name = "cfg%02x%04x" % (p.n_section, h % 65536)
    return s


# ---------------------------------------------------------------- parser (file.c grammar)

class Reader:
    """Line-oriented reader reproducing the uci parse context (line, byte)."""

    def __init__(self, data):
        self.lines = data.splitlines(keepends=True)
        self.idx = 0
        self.line = 0
        self.buf = ""
        self.pos = 0

    def getln(self, keep):
        # keep: append the next line to the buffer (multi-line strings), else start fresh
        if self.idx >= len(self.lines):
            if not keep:
                self.buf = ""
                self.pos = 0
            return False
        nxt = self.lines[self.idx]
        self.idx += 1
        if nxt.endswith("\n"):
            self.line += 1
        if keep:
            self.buf = self.buf[:self.pos] + nxt
        else:
            self.buf = nxt
            self.pos = 0
        return True

    def cur(self):
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def err(self, reason):
        return parse_error(reason, self.line, len(self.buf[:self.pos].encode("utf-8", "surrogateescape")))


def _isspace(ch):
    return ch in " \t\n\r\v\f"


def parse_backslash(r):
    r.pos += 1
    c = r.cur()
    if c == "" or c == "\n" or (c == "\r" and r.buf[r.pos + 1:] == "\n"):
        r.getln(True)
        return False
    return True


def parse_double_quote(r, out):
    r.pos += 1
    while True:
        c = r.cur()
        if c == '"':
            r.pos += 1
            return
        if c == "":
            r.getln(True)
            if r.cur() == "":
                raise r.err('EOF with unterminated "')
            continue
        if c == "\\":
            if not parse_backslash(r):
                continue
            c = r.cur()
        out.append(c)
        r.pos += 1


def parse_single_quote(r, out):
    r.pos += 1
    while True:
        c = r.cur()
        if c == "'":
            r.pos += 1
            return
        if c == "":
            r.getln(True)
            if r.cur() == "":
                raise r.err("EOF with unterminated '")
            continue
        out.append(c)
        r.pos += 1


def parse_str(r):
    """Returns (string, command_separator_seen)."""
    out = []
    nxt = True
    while True:
        c = r.cur()
        if c == "'":
            parse_single_quote(r, out)
        elif c == '"':
            parse_double_quote(r, out)
        elif c == "#":
            r.buf = r.buf[:r.pos]
            break
        elif c == "":
            break
        elif c == ";":
            nxt = False
            break
        elif c == "\\":
            if not parse_backslash(r):
                if r.cur() == "" or _isspace(r.cur()):
                    break
                continue
            out.append(r.cur())
            r.pos += 1
        else:
            out.append(c)
            r.pos += 1
        if r.cur() == "" or _isspace(r.cur()):
            break
    if r.cur() != "" and nxt:
        r.pos += 1
    return "".join(out)


def skip_ws(r):
    while r.cur() != "" and _isspace(r.cur()):
        r.pos += 1


def next_arg(r, required, name=False, package=False):
    skip_ws(r)
    if r.cur() == ";":
        r.pos += 1
        val = ""
    else:
        val = parse_str(r)
    if not val:
        if required:
            raise r.err("insufficient arguments")
        return val
    if name and not validate_str(val, True, package):
        raise r.err("invalid character in name field")
    return val


def assert_eol(r):
    skip_ws(r)
    extra = next_arg(r, False)
    if extra:
        raise r.err("too many arguments")


def parse_config(data, pkg_name, single, p=None):
    """Parses uci file text into a Package. single: package name given, ignore 'package' lines."""
    r = Reader(data)
    if p is None and pkg_name is not None:
        p = Package(pkg_name)
    section = None
    while r.getln(False):
        skip_ws(r)
        while True:
            skip_ws(r)
            if r.cur() == "" or r.cur() == "#":
                break
            start = r.pos
            while r.cur() != "" and r.cur() not in " \t" and r.cur() != "\n":
                r.pos += 1
            word = r.buf[start:r.pos].rstrip("\r\n")
            if r.cur() != "":
                r.pos += 1
            if word in ("p", "package"):
                name = next_arg(r, True, True, True)
                assert_eol(r)
                if not single:
                    if p is not None:
                        raise UciError(ERR_DUP)
                    p = Package(name)
            elif word in ("c", "config"):
                if p is None:
                    r.pos = start
                    raise r.err("attempting to import a file without a package name")
                stype = next_arg(r, True)
                if not validate_type(stype):
                    raise r.err("invalid character in type field")
                name = next_arg(r, False, True)
                assert_eol(r)
                if not name:
                    section = alloc_section(p, stype, None)
                else:
                    s = p.find(name)
                    if s is not None and s.type != stype:
                        raise r.err("section of different type overwrites prior section with same name")
                    if s is None:
                        s = alloc_section(p, stype, name)
                    section = s
            elif word in ("o", "option", "l", "list"):
                if section is None:
                    r.pos = start
                    raise r.err("option/list command found before the first section")
                oname = next_arg(r, True, True)
                value = next_arg(r, False)
                assert_eol(r)
                if word.startswith("l"):
                    old = section.options.get(oname)
                    if isinstance(old, list):
                        old.append(value)
                    elif old is None:
                        section.options[oname] = [value]
                    else:
                        section.options[oname] = [old, value]
                else:
                    section.options[oname] = value
            elif word == "" or word.startswith("#"):
                break
            else:
                r.pos = start
                raise r.err("invalid command")
            # assert_eol consumed the rest of the command, up to a ';' separator if any
    return p


# ---------------------------------------------------------------- output (file.c / cli.c)

def escape(s):
    return s.replace("'", "'\\''")


def export_text(p, header):
    out = []
    if header:
        out.append("package %s\n" % escape(p.name))
    for s in p.sections:
        out.append("\nconfig %s" % escape(s.type))
        if not s.anonymous or FLAGS["export_name"]:
            out.append(" '%s'" % escape(s.name))
        out.append("\n")
        for oname, v in s.options.items():
            if isinstance(v, list):
                for item in v:
                    out.append("\tlist %s '%s'\n" % (escape(oname), escape(item)))
            else:
                out.append("\toption %s '%s'\n" % (escape(oname), escape(v)))
    out.append("\n")
    return "".join(out)


def quote_value(v):
    return "'" + escape(v) + "'"


FLAGS = {"quiet": False, "export_name": False, "show_ext": True, "delimiter": " "}


def write(s):
    sys.stdout.buffer.write(s.encode("utf-8", "surrogateescape"))


def perror(err):
    if FLAGS["quiet"]:
        return
    sys.stderr.buffer.write(("uci: %s%s\n" % (err.msg, err.detail)).encode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------- context: load, delta, save

class Ctx:
    def __init__(self):
        self.confdir = CONFDIR
        self.savedir = SAVEDIR
        self.delta_path = [SAVEDIR]

    def set_savedir(self, d):
        if d in self.delta_path:
            self.delta_path.remove(d)
        self.delta_path.append(d)
        self.savedir = d

    def config_path(self, name):
        return os.path.join(self.confdir, name)

    def load(self, name, with_delta=True):
        if not validate_package(name):
            raise UciError(ERR_NOTFOUND)
        path = self.config_path(name)
        try:
            with open(path, "rb") as f:
                data = f.read().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            raise UciError(ERR_NOTFOUND)
        except OSError:
            raise UciError(ERR_IO)
        p = parse_config(data, name, True)
        if with_delta:
            for d in self.delta_path:
                self.replay_delta_file(p, os.path.join(d, name))
        return p

    def replay_delta_file(self, p, path):
        try:
            with open(path, "rb") as f:
                data = f.read().decode("utf-8", "surrogateescape")
        except OSError:
            return 0
        n = 0
        for line in data.splitlines():
            if not line:
                continue
            cmd = "="
            if line[0] in "+-@^|~":
                cmd, line = line[0], line[1:]
            r = Reader(line + "\n")
            r.getln(False)
            try:
                arg = next_arg(r, False)
                ptr = parse_ptr(arg)
            except UciError:
                continue
            if ptr["package"] != p.name or not ptr["section"]:
                continue
            try:
                apply_delta(p, cmd, ptr["section"], ptr["option"], ptr["value"])
            except UciError:
                continue
            p.saved_delta.append((cmd, ptr["section"], ptr["option"], ptr["value"]))
            n += 1
        return n

    def save(self, p):
        if not p.delta:
            return
        try:
            os.makedirs(self.savedir, mode=0o700, exist_ok=True)
        except OSError:
            raise UciError(ERR_IO)
        if not os.path.isdir(self.savedir):
            raise UciError(ERR_IO)
        lines = []
        for cmd, sec, opt, val in p.delta:
            prefix = "" if cmd == "=" else cmd
            s = "%s%s.%s" % (prefix, p.name, sec)
            if opt:
                s += "." + opt
            if cmd == "-" and val is None:
                s += "\n"
            else:
                s += "='%s'\n" % escape(val)
            lines.append(s)
        try:
            fd = os.open(os.path.join(self.savedir, p.name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write("".join(lines).encode("utf-8", "surrogateescape"))
        except OSError:
            raise UciError(ERR_IO)
        p.delta = []

    def write_file(self, p):
        path = self.config_path(p.name)
        try:
            st = os.stat(path)
            mode = st.st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o600
        try:
            # mkstemp without importing tempfile (which costs more start-up than the rest of the tool)
            tmp = os.path.join(self.confdir, ".%s.uci-%s" % (p.name, os.urandom(6).hex()))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError:
            raise UciError(ERR_IO)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(export_text(p, False).encode("utf-8", "surrogateescape"))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.rename(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise UciError(ERR_IO)

    def commit(self, name):
        p = self.load(name, with_delta=False)
        changes = 0
        for d in self.delta_path:
            changes += self.replay_delta_file(p, os.path.join(d, name))
        if changes == 0:
            return
        self.write_file(p)
        own = os.path.join(self.savedir, name)
        if os.path.exists(own):
            try:
                with open(own, "wb"):
                    pass
            except OSError:
                raise UciError(ERR_IO)

    def list_configs(self):
        try:
            names = sorted(os.listdir(self.confdir))
        except OSError:
            return []
        return [n for n in names if "." not in n and os.path.isfile(os.path.join(self.confdir, n))]


def apply_delta(p, cmd, sec, opt, val):
    s = p.find(sec)
    if cmd == "+":
        if s is None:
            s = alloc_section(p, val, sec)
            s.anonymous = True
        return
    if cmd == "-":
        if s is None:
            raise UciError(ERR_NOTFOUND)
        if opt:
            s.options.pop(opt, None)
        else:
            p.sections.remove(s)
        return
    if cmd == "=":
        if opt is None:
            if s is None:
                alloc_section(p, val, sec)
            else:
                s.type = val
        else:
            if s is None:
                raise UciError(ERR_INVAL)
            s.options[opt] = val
        return
    if cmd == "|":
        if s is None or not opt:
            raise UciError(ERR_INVAL)
        old = s.options.get(opt)
        if isinstance(old, list):
            old.append(val)
        elif old is None:
            s.options[opt] = [val]
        else:
            s.options[opt] = [old, val]
        return
    if cmd == "~":
        if s is None or not opt:
            raise UciError(ERR_INVAL)
        old = s.options.get(opt)
        if isinstance(old, list):
            s.options[opt] = [x for x in old if x != val]
        return
    if cmd == "@":
        if s is None:
            raise UciError(ERR_NOTFOUND)
        if opt:
            if opt in s.options:
                s.options = {(val if k == opt else k): v for k, v in s.options.items()}
        else:
            s.name = val
            s.anonymous = False
        return
    if cmd == "^":
        if s is None:
            raise UciError(ERR_NOTFOUND)
        p.sections.remove(s)
        p.sections.insert(min(int(val), len(p.sections)), s)


# ---------------------------------------------------------------- pointers (uci_parse_ptr, lookup)

def parse_ptr(arg):
    ptr = {"package": None, "section": None, "option": None, "value": None}
    if "=" in arg:
        arg, ptr["value"] = arg.split("=", 1)
    parts = arg.split(".")
    if len(parts) > 3 or any(x == "" for x in parts):
        raise UciError(ERR_PARSE)
    ptr["package"] = parts[0]
    if len(parts) > 1:
        ptr["section"] = parts[1]
    if len(parts) > 2:
        ptr["option"] = parts[2]
    if not validate_package(ptr["package"]):
        raise UciError(ERR_PARSE)
    if ptr["option"] is not None and not validate_name(ptr["option"]):
        raise UciError(ERR_PARSE)
    if ptr["value"] is not None and not validate_text(ptr["value"]):
        raise UciError(ERR_PARSE)
    return ptr


def lookup_ext(p, ref):
    """@type[idx] (idx may be negative, type may be empty); None when out of range."""
    if not ref.startswith("@") or "[" not in ref or not ref.endswith("]"):
        raise UciError(ERR_INVAL)
    stype, num = ref[1:-1].split("[", 1)
    try:
        idx = int(num, 10)
    except ValueError:
        raise UciError(ERR_INVAL)
    if stype and not validate_type(stype):
        raise UciError(ERR_INVAL)
    matches = [s for s in p.sections if not stype or s.type == stype]
    if idx < 0:
        idx += len(matches)
    if idx < 0 or idx >= len(matches):
        return None
    return matches[idx]


def lookup(ctx, ptr):
    """Loads the package and resolves the section/option; returns (p, s, o_exists)."""
    p = ctx.load(ptr["package"])
    s = None
    if ptr["section"] is not None:
        if validate_name(ptr["section"]):
            s = p.find(ptr["section"])
        else:
            s = lookup_ext(p, ptr["section"])
            if s is not None:
                ptr["section"] = s.name
    return p, s


def section_ref(p, s):
    if not s.anonymous or not FLAGS["show_ext"]:
        return s.name
    same = [x for x in p.sections if x.type == s.type]
    return "@%s[%d]" % (s.type, same.index(s))


def show_value(v, quote):
    if isinstance(v, list):
        items = []
        for x in v:
            if not quote and not any(c in x for c in " \t\r\n"):
                items.append(x)
            else:
                items.append(quote_value(x))
        return FLAGS["delimiter"].join(items)
    return quote_value(v) if quote else v


def show_section(p, s, ref):
    out = ["%s.%s=%s\n" % (p.name, ref, s.type)]
    for oname, v in s.options.items():
        out.append("%s.%s.%s=%s\n" % (p.name, ref, oname, show_value(v, True)))
    return "".join(out)


# ---------------------------------------------------------------- commands

def cmd_get(ctx, arg):
    ptr = parse_ptr(arg)
    if ptr["value"] is not None:
        return 1
    p, s = lookup(ctx, ptr)
    if ptr["section"] is None or s is None:
        raise UciError(ERR_NOTFOUND)
    if ptr["option"] is None:
        write(s.type + "\n")
        return 0
    if ptr["option"] not in s.options:
        raise UciError(ERR_NOTFOUND)
    write(show_value(s.options[ptr["option"]], False) + "\n")
    return 0


def cmd_show(ctx, args):
    if not args:
        for name in ctx.list_configs():
            try:
                p = ctx.load(name)
            except UciError:
                continue
            for s in p.sections:
                write(show_section(p, s, section_ref(p, s)))
        return 0
    ptr = parse_ptr(args[0])
    if ptr["value"] is not None:
        return 1
    p, s = lookup(ctx, ptr)
    if ptr["section"] is None:
        for sec in p.sections:
            write(show_section(p, sec, section_ref(p, sec)))
        return 0
    if s is None:
        raise UciError(ERR_NOTFOUND)
    if ptr["option"] is None:
        write(show_section(p, s, s.name))
        return 0
    if ptr["option"] not in s.options:
        raise UciError(ERR_NOTFOUND)
    write("%s.%s.%s=%s\n" % (p.name, s.name, ptr["option"], show_value(s.options[ptr["option"]], True)))
    return 0


def do_set(ctx, p, s, ptr):
    val = ptr["value"]
    sec, opt = ptr["section"], ptr["option"]
    # list.c uci_set: these assertions come before the empty-value (delete) case
    if opt is not None and s is None:
        raise UciError(ERR_INVAL)
    if opt is None and val and not validate_type(val):
        raise UciError(ERR_INVAL)
    if val == "":
        exists = s is not None and (opt is None or opt in s.options)
        if not exists:
            return
        do_delete(ctx, p, s, ptr)
        return
    if opt is not None:
        if s is None:
            raise UciError(ERR_INVAL)
        if s.options.get(opt) == val:
            return
        s.options[opt] = val
    else:
        if not validate_type(val):
            raise UciError(ERR_INVAL)
        if s is None:
            if not validate_name(sec):
                raise UciError(ERR_INVAL)
            alloc_section(p, val, sec)
        else:
            if s.type == val:
                return
            s.type = val
    p.delta.append(("=", sec, opt, val))


def do_delete(ctx, p, s, ptr):
    if s is None:
        raise UciError(ERR_NOTFOUND)
    opt = ptr["option"]
    if opt is not None:
        if opt not in s.options:
            raise UciError(ERR_NOTFOUND)
        del s.options[opt]
    else:
        p.sections.remove(s)
    p.delta.append(("-", ptr["section"], opt, None))


def cmd_modify(ctx, cmd, arg):
    ptr = parse_ptr(arg)
    p, s = lookup(ctx, ptr)
    if ptr["section"] is None:
        raise UciError(ERR_INVAL)
    if cmd == "set":
        if ptr["value"] is None:
            raise UciError(ERR_INVAL)
        do_set(ctx, p, s, ptr)
    elif cmd == "delete":
        if ptr["value"] is not None:
            return 1
        do_delete(ctx, p, s, ptr)
    elif cmd in ("add_list", "del_list"):
        opt, val = ptr["option"], ptr["value"]
        if s is None or opt is None or val is None:
            raise UciError(ERR_INVAL)
        old = s.options.get(opt)
        if cmd == "add_list":
            if val == "":
                return 0
            if isinstance(old, list):
                old.append(val)
            elif old is None:
                s.options[opt] = [val]
            else:
                s.options[opt] = [old, val]
            p.delta.append(("|", ptr["section"], opt, val))
        else:
            if old is None:
                raise UciError(ERR_NOTFOUND)
            if isinstance(old, list):
                s.options[opt] = [x for x in old if x != val]
                p.delta.append(("~", ptr["section"], opt, val))
    elif cmd == "rename":
        val = ptr["value"]
        if s is None or val is None or not validate_name(val):
            raise UciError(ERR_INVAL)
        apply_delta(p, "@", ptr["section"], ptr["option"], val)
        p.delta.append(("@", ptr["section"], ptr["option"], val))
    ctx.save(p)
    return 0


def cmd_add(ctx, args):
    if len(args) != 2:
        return 255
    if not validate_type(args[1]):
        raise UciError(ERR_INVAL)
    p = ctx.load(args[0])
    s = alloc_section(p, args[1], None)
    p.delta.append(("+", s.name, None, args[1]))
    ctx.save(p)
    write(s.name + "\n")
    return 0


def cmd_changes(ctx, args):
    names = [args[0]] if args else ctx.list_configs()
    for name in names:
        p = ctx.load(name)
        for cmd, sec, opt, val in p.saved_delta:
            prefix, op = "", "="
            if cmd == "-":
                prefix = "-"
            elif cmd == "|":
                op = "+="
            elif cmd == "~":
                op = "-="
            line = "%s%s.%s" % (prefix, p.name, sec)
            if opt:
                line += "." + opt
            if cmd != "-":
                line += op + quote_value(val)
            write(line + "\n")
    return 0


def cmd_revert(ctx, arg):
    ptr = parse_ptr(arg)
    ctx.load(ptr["package"])
    path = os.path.join(ctx.savedir, ptr["package"])
    if ptr["section"] is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            raise UciError(ERR_IO)
        return 0
    # partial revert: drop the matching lines from our save file
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "surrogateescape").splitlines(keepends=True)
    except FileNotFoundError:
        return 0
    keep = []
    for line in lines:
        body = line[1:] if line[:1] in "+-@^|~" else line
        key = body.split("=", 1)[0].rstrip("\n")
        parts = key.split(".")
        if len(parts) >= 2 and parts[1] == ptr["section"] and (
                ptr["option"] is None or (len(parts) > 2 and parts[2] == ptr["option"])):
            continue
        keep.append(line)
    with open(path, "wb") as f:
        f.write("".join(keep).encode("utf-8", "surrogateescape"))
    return 0


def cmd_import(ctx, args, stream):
    if len(args) > 1:
        return 255
    name = args[0] if args else None
    data = stream.read().decode("utf-8", "surrogateescape")
    p = parse_config(data, name, name is not None)
    if p is None:
        raise UciError(ERR_PARSE, " (attempting to import a file without a package name) at line 0, byte 0")
    if not validate_package(p.name):
        raise UciError(ERR_INVAL)
    ctx.write_file(p)
    return 0


def run_command(ctx, argv, stream):
    cmd, args = argv[0], argv[1:]
    if cmd in ("get", "set", "delete", "add_list", "del_list", "rename"):
        if len(args) != 1:
            return 255
        if cmd == "get":
            return cmd_get(ctx, args[0])
        return cmd_modify(ctx, cmd, args[0])
    if cmd == "show":
        if len(args) > 1:
            return 255
        return cmd_show(ctx, args)
    if cmd == "add":
        return cmd_add(ctx, args)
    if cmd == "changes":
        if len(args) > 1:
            return 255
        return cmd_changes(ctx, args)
    if cmd == "export":
        if len(args) > 1:
            return 255
        names = args if args else ctx.list_configs()
        for n in names:
            write(export_text(ctx.load(n), True))
        return 0
    if cmd == "commit":
        if len(args) > 1:
            return 255
        for n in (args if args else ctx.list_configs()):
            ctx.commit(n)
        return 0
    if cmd == "revert":
        if len(args) != 1:
            return 255
        return cmd_revert(ctx, args[0])
    if cmd == "import":
        return cmd_import(ctx, args, stream)
    if cmd == "batch":
        return cmd_batch(ctx, stream)
    return 255


def cmd_batch(ctx, stream):
    data = stream.read().decode("utf-8", "surrogateescape")
    r = Reader(data)
    while r.getln(False):
        argv = []
        try:
            while True:
                a = next_arg(r, False)
                if not a:
                    break
                argv.append(a)
        except UciError as e:
            perror(e)
            argv = []
        if not argv:
            continue
        if argv[0] == "exit":
            break
        if argv[0] in ("batch", "import"):
            continue
        try:
            ret = run_command(ctx, argv, None)
        except UciError as e:
            perror(e)
            ret = 1
        if ret == 255:
            sys.stderr.write("Unknown command\n")
    return 0


def usage():
    sys.stderr.write("Usage: uci [<options>] <command> [<arguments>]\n")


def main(argv):
    ctx = Ctx()
    stream = sys.stdin.buffer
    i = 1
    while i < len(argv) and argv[i].startswith("-") and len(argv[i]) > 1:
        opt = argv[i]
        flags = opt[1:]
        for j, f in enumerate(flags):
            if f in "cCdfpPt":
                val = flags[j + 1:] or (argv[i + 1] if i + 1 < len(argv) else None)
                if val is None:
                    usage()
                    return 0
                if not flags[j + 1:]:
                    i += 1
                if f == "c":
                    ctx.confdir = val
                elif f == "t":
                    ctx.set_savedir(val)
                elif f == "p":
                    if val in ctx.delta_path:
                        perror(UciError(ERR_DUP))
                        return 1
                    ctx.delta_path.insert(len(ctx.delta_path) - 1, val)
                elif f == "d":
                    FLAGS["delimiter"] = val
                elif f == "f":
                    try:
                        stream = open(val, "rb")
                    except OSError as e:
                        sys.stderr.write("uci: %s" % e.strerror)
                        return 1
                break
            elif f == "q":
                FLAGS["quiet"] = True
            elif f == "n":
                FLAGS["export_name"] = True
            elif f == "N":
                FLAGS["export_name"] = False
            elif f == "X":
                FLAGS["show_ext"] = False
            elif f in "sSm":
                pass
            else:
                usage()
                return 0
        i += 1
    rest = argv[i:]
    if not rest:
        usage()
        return 0
    try:
        ret = run_command(ctx, rest, stream)
    except UciError as e:
        perror(e)
        return 1
    if ret == 255:
        usage()
        return 255
    return ret


def run():
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:
        sys.exit(1)
