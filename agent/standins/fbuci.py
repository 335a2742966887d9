"""Stand-in for OpenWRT's `uci` CLI on Debian test hosts (the `uci` launcher runs run()).

It implements exactly the calls the agent makes (agent/src/uci_cli.c), on real uci-format files:
options -c, -t, -X, -f; commands get, set, delete, add_list, commit, export, import, changes,
show (with -X) and batch. Anything else stops with exit 255 and a message saying so, instead of
guessing. The code follows openwrt/uci (cli.c, file.c, list.c, delta.c, util.c, libuci.c) function
by function; agent/standins/README.md lists what is reproduced and where it comes from.
"""
import os
import sys

CONFDIR = "/etc/config"
# The shared save dir other uci callers stage in. A test points it at a private directory
# (FB_STANDIN_UCI_SAVEDIR) to play such a caller without touching the host's /tmp/.uci.
SAVEDIR = os.environ.get("FB_STANDIN_UCI_SAVEDIR") or "/tmp/.uci"
# FB_STANDIN_UCI_NO_T=1: behave as uci before 2021-04-12 (OpenWRT 19.07, Onion legacy), which has no -t.
NO_T = os.environ.get("FB_STANDIN_UCI_NO_T") == "1"
# uci since 2025-01 reads a package from this override dir when the file exists there, and commits it
# there (libuci.c UCI_CONF2DIR); FB_STANDIN_UCI_CONF2DIR stands for it in tests.
CONF2DIR = os.environ.get("FB_STANDIN_UCI_CONF2DIR") or "/var/run/uci"
MAX_ARGS = 4  # cli.c: arguments of one batch line

# libuci.c uci_errstr
ERR_INVAL = "Invalid argument"
ERR_NOTFOUND = "Entry not found"
ERR_IO = "I/O error"
ERR_PARSE = "Parse error"

# delta.c uci_command_char; the stand-in writes and replays these three only
CMD_CHANGE, CMD_REMOVE, CMD_LIST_ADD = "", "-", "|"
OTHER_DELTA_CMDS = b"+@^~"  # add, rename, reorder, del_list: never written for the agent


class UciError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


class Unsupported(Exception):
    """A call outside what the agent makes: the stand-in stops rather than guess (exit 255)."""


def unsupported(what):
    raise Unsupported("uci stand-in: %s is not implemented (the agent does not use it; see "
                      "agent/standins/README.md)" % what)


# ---------------------------------------------------------------- util.c

def validate_str(s, name, package):
    """uci_validate_str on bytes: alnum and _ always, - in package names, other printables in types."""
    if not s:
        return False
    for c in s:
        if (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 95:
            continue
        if c == 45 and package:
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
    return all(c >= 32 or c in (9, 10, 13) for c in s)


def enc(s):
    return s.encode("utf-8", "surrogateescape")


def dec(b):
    return bytes(b).decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- data model (list.c)

class Section:
    def __init__(self, stype, name, anonymous):
        self.type = stype
        self.name = name
        self.anonymous = anonymous
        self.options = {}  # name -> str | list[str]; dict order is the file order


class Package:
    def __init__(self, name):
        self.name = name
        self.sections = []
        self.n_section = 0
        self.delta = []  # changes made by this call: (cmd, section, option, value)
        self.path = None  # the file it was loaded from
        self.uses_conf2 = False  # ... in the override dir
        self.saved_delta = []  # changes read from the delta files (`uci changes`)

    def find(self, name):
        for s in self.sections:
            if s.name == name:
                return s
        return None


def djbhash(h, s):
    if h == 0xFFFFFFFF:
        h = 5381
    for b in enc(s):
        if b >= 128:  # char is signed on x86 and on MIPS
            b -= 256
        h = (h * 33 + b) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


def alloc_section(p, stype, name):
    """uci_alloc_section (+ uci_fixup_section for an unnamed one, which has no options yet)."""
    s = Section(stype, name, not name)
    p.n_section += 1
    p.sections.append(s)
    if not name:
        s.name = "cfg%02x%04x" % (p.n_section & 0xFF, djbhash(0xFFFFFFFF, stype) % 65536)
    return s


class Ptr:
    """struct uci_ptr after uci_lookup_ptr: names as str, s the section, complete as in UCI_LOOKUP_COMPLETE."""

    def __init__(self):
        self.package = self.section = self.option = self.value = None
        self.extended = False
        self.p = self.s = None
        self.complete = False

    def has_option(self):
        return self.s is not None and self.option is not None and self.option in self.s.options


def parse_ptr(arg):
    """uci_parse_ptr: [pkg[.section[.option]]][=value]; an invalid section name means extended syntax."""
    if isinstance(arg, str):
        arg = enc(arg)
    ptr = Ptr()
    if b"=" in arg:
        arg, value = arg.split(b"=", 1)
        ptr.value = value
    parts = arg.split(b".")
    if len(parts) > 3:
        raise UciError(ERR_PARSE)
    package = parts[0]
    section = parts[1] if len(parts) > 1 else None
    option = parts[2] if len(parts) > 2 else None
    if not validate_package(package):
        raise UciError(ERR_PARSE)
    if section is not None and not validate_name(section):
        ptr.extended = True
    if option is not None and not validate_name(option):
        raise UciError(ERR_PARSE)
    if ptr.value is not None and not validate_text(ptr.value):
        raise UciError(ERR_PARSE)
    ptr.package = dec(package)
    ptr.section = None if section is None else dec(section)
    ptr.option = None if option is None else dec(option)
    ptr.value = None if ptr.value is None else dec(ptr.value)
    return ptr


def lookup_in(ptr, p):
    """The section and option part of uci_lookup_ptr, on a loaded package."""
    ptr.p = p
    ptr.complete = False
    if ptr.section is None:
        ptr.complete = True
        return
    if ptr.extended:
        if ptr.section.startswith("@"):
            unsupported("the extended section syntax (@type[n])")
        raise UciError(ERR_INVAL)  # uci_lookup_ext_section rejects anything not starting with @
    ptr.s = p.find(ptr.section)
    if ptr.s is None:
        return
    if ptr.option is not None and ptr.option not in ptr.s.options:
        return
    ptr.complete = True


def uci_set(ptr, internal):
    if ptr.value is None:
        raise UciError(ERR_INVAL)
    if not (ptr.s is not None or (ptr.option is None and ptr.section is not None)):
        raise UciError(ERR_INVAL)
    if ptr.option is None and ptr.value and not validate_type(enc(ptr.value)):
        raise UciError(ERR_INVAL)
    p, s, opt, val = ptr.p, ptr.s, ptr.option, ptr.value
    if not val:
        # setting something that does not exist to nothing succeeds without a change
        if not ptr.complete:
            return
        uci_delete(ptr, internal)
        return
    if opt is not None and not ptr.has_option():
        s.options[opt] = val
    elif s is None:
        ptr.s = alloc_section(p, val, ptr.section)
    elif opt is not None:
        if s.options[opt] == val:
            return
        s.options[opt] = val  # a list becomes this string, in the same place
    else:
        if s.type == val:
            return
        s.type = val
    if not internal:
        p.delta.append((CMD_CHANGE, ptr.section, opt, val))


def uci_delete(ptr, internal):
    if not ptr.complete:
        raise UciError(ERR_NOTFOUND)
    if ptr.s is None:
        raise UciError(ERR_INVAL)
    if not internal:
        ptr.p.delta.append((CMD_REMOVE, ptr.section, ptr.option, None))
    if ptr.option is not None:
        del ptr.s.options[ptr.option]
    else:
        ptr.p.sections.remove(ptr.s)
        ptr.s = None


def uci_add_list(ptr, internal):
    if ptr.s is None or ptr.value is None:
        raise UciError(ERR_INVAL)
    opt, val = ptr.option, ptr.value
    if opt is not None:
        # without an option uci makes a nameless list that nothing shows; only the delta line remains
        old = ptr.s.options.get(opt)
        if isinstance(old, list):
            old.append(val)
        elif old is None:
            ptr.s.options[opt] = [val]
        else:
            ptr.s.options[opt] = [old, val]
    if not internal:
        ptr.p.delta.append((CMD_LIST_ADD, ptr.section, opt, val))


# ---------------------------------------------------------------- parser (file.c)

def split_lines(data):
    """What successive fgets calls return: lines up to and including '\\n'."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        yield data[start:end]
        start = end


def isspace(c):
    return c in (32, 9, 10, 11, 12, 13)


class Parser:
    """struct uci_parse_context: a NUL-terminated line buffer that parsing rewrites in place."""

    def __init__(self, data):
        self.lines = split_lines(data)
        self.buf = bytearray(b"\0")
        self.pos = 0
        self.filled = 0
        self.line = 0
        self.eof = False
        self.reason = None
        self.byte = 0

    def getln(self, offset):
        """uci_getln: the next line, stored from offset on."""
        nxt = next(self.lines, b"")
        del self.buf[offset:]
        self.buf += nxt
        self.buf.append(0)
        if not nxt:
            self.eof = True
            return
        self.filled = offset + len(nxt)
        if nxt.endswith(b"\n"):
            self.line += 1
        else:
            self.eof = True

    def cur(self):
        return self.buf[self.pos]

    def cstr(self, i):
        return bytes(self.buf[i:self.buf.index(0, i)])

    def error(self, reason):
        """uci_parse_error"""
        self.reason = reason
        self.byte = self.pos
        raise UciError(ERR_PARSE)


def parse_backslash(px):
    px.pos += 1
    c = px.cur()
    if c == 0 or c == 10 or (c == 13 and px.buf[px.pos + 1] == 10 and px.buf[px.pos + 2] == 0):
        px.getln(px.pos)
        return False
    return True


def parse_quoted(px, t):
    """parse_single_quote and parse_double_quote: to the closing quote, across lines; \\ only in "..."."""
    q = px.cur()
    px.pos += 1
    while True:
        c = px.cur()
        if c == q:
            px.pos += 1
            return t
        if c == 0:
            px.getln(px.pos)
            if px.cur() == 0:
                px.error("EOF with unterminated %c" % q)
            continue
        if c == 92 and q == 34 and not parse_backslash(px):
            continue
        px.buf[t] = px.cur()
        t += 1
        px.pos += 1


def parse_str(px, t):
    nxt = True
    while True:
        c = px.cur()
        if c == 39 or c == 34:
            t = parse_quoted(px, t)
        elif c == 35 or c == 0:  # '#' ends the line
            px.buf[px.pos] = 0
            break
        elif c == 59:  # ';' ends the command
            nxt = False
            break
        elif c == 92 and not parse_backslash(px):
            pass  # line continued: C's `continue` goes to the loop test
        else:
            px.buf[t] = px.cur()
            t += 1
            px.pos += 1
        if px.cur() == 0 or isspace(px.cur()):
            break
    if px.cur() != 0 and nxt:
        px.pos += 1
    px.buf[t] = 0


def next_arg(px, required, name, package):
    """Offset of the next argument (a NUL-terminated string in the buffer)."""
    while px.cur() != 0 and isspace(px.cur()):
        px.pos += 1
    val = px.pos
    if px.cur() == 59:
        px.buf[px.pos] = 0
        px.pos += 1
    else:
        parse_str(px, val)
    if px.buf[val] == 0:
        if required:
            px.error("insufficient arguments")
        return val
    if name and not validate_str(px.cstr(val), name, package):
        px.error("invalid character in name field")
    return val


def assert_eol(px):
    if px.cstr(next_arg(px, False, False, False)):
        px.error("too many arguments")


def strtok_word(px):
    """strtok(pctx_cur_str, " \\t") as uci_parse_line uses it: NUL after the word, pos unchanged."""
    i = px.pos
    while px.buf[i] in (32, 9):
        i += 1
    if px.buf[i] == 0:
        return None
    j = i
    while px.buf[j] not in (0, 32, 9):
        j += 1
    px.buf[j] = 0
    return bytes(px.buf[i:j])


def skip_command_word(px, what):
    n = len(px.cstr(px.pos)) + 1
    if px.pos + n > px.filled:
        px.error("%s without name" % what)
    px.pos += n


class Import:
    """uci_import of one package: the file's own `package` lines are checked and ignored."""

    def __init__(self, name):
        self.name = name
        self.package = None
        self.section = None


def parse_config_cmd(px, imp):
    if imp.package is None:
        imp.package = Package(imp.name)
    skip_command_word(px, "config")
    t = next_arg(px, True, False, False)
    if not validate_type(px.cstr(t)):
        px.error("invalid character in type field")
    n = next_arg(px, False, True, False)
    assert_eol(px)
    stype, name = dec(px.cstr(t)), dec(px.cstr(n))
    p = imp.package
    if not name:
        imp.section = alloc_section(p, stype, None)
        return
    s = p.find(name)
    if s is not None and s.type != stype:
        px.error("section of different type overwrites prior section with same name")
    imp.section = s if s is not None else alloc_section(p, stype, name)


def parse_option_cmd(px, imp, is_list):
    if imp.section is None:
        px.error("option/list command found before the first section")
    skip_command_word(px, "option")
    n = next_arg(px, True, True, False)
    v = next_arg(px, False, False, False)
    assert_eol(px)
    ptr = Ptr()
    ptr.p, ptr.s, ptr.section = imp.package, imp.section, imp.section.name
    ptr.option, ptr.value = dec(px.cstr(n)), dec(px.cstr(v))
    if is_list:
        uci_add_list(ptr, True)
    else:
        uci_set(ptr, True)  # not "complete": an empty value sets nothing


def parse_line(px, imp):
    while px.cur() != 0 and isspace(px.cur()):
        px.pos += 1
    while True:
        word = strtok_word(px)
        if not word or word[0] == 35:
            return
        if word in (b"p", b"package"):
            skip_command_word(px, "package")
            next_arg(px, True, True, True)
            assert_eol(px)
        elif word in (b"c", b"config"):
            parse_config_cmd(px, imp)
        elif word in (b"o", b"option"):
            parse_option_cmd(px, imp, False)
        elif word in (b"l", b"list"):
            parse_option_cmd(px, imp, True)
        else:
            px.error("invalid command")


def import_package(ctx, data, name):
    """uci_import(single) of bytes: the package, or UciError (ctx.pctx then tells where)."""
    px = Parser(data)
    ctx.pctx = px
    imp = Import(name)
    while not px.eof:
        px.pos = 0
        px.getln(0)
        if px.buf[0]:
            parse_line(px, imp)
    ctx.pctx = None
    return imp.package if imp.package is not None else Package(name)


def parse_config(data, name):
    """A package from the bytes of its file (the wifi and ubus stand-ins read committed files)."""
    return import_package(Ctx(), data, name)


# ---------------------------------------------------------------- output (file.c, cli.c)

def escape(s):
    return s.replace("'", "'\\''")


def quote(s):
    return "'" + escape(s) + "'"


def export_text(p, header):
    """uci_export_package (unnamed sections stay unnamed: -n is not the default)."""
    out = ["package %s\n" % escape(p.name)] if header else []
    for s in p.sections:
        out.append("\nconfig %s" % escape(s.type))
        if not s.anonymous:
            out.append(" '%s'" % escape(s.name))
        out.append("\n")
        for oname, v in s.options.items():
            for item in (v if isinstance(v, list) else [v]):
                out.append("\t%s %s '%s'\n" % ("list" if isinstance(v, list) else "option", escape(oname),
                                               escape(item)))
    out.append("\n")
    return "".join(out)


def show_value(v, quoted):
    """uci_show_value: list items quoted only when quoting or when they hold whitespace."""
    if not isinstance(v, list):
        return quote(v) if quoted else v
    return " ".join(quote(x) if quoted or any(c in x for c in " \t\r\n") else x for x in v)


def write(s):
    sys.stdout.buffer.write(enc(s))


# ---------------------------------------------------------------- context: load, delta files, save

def read_stream(path):
    """uci_open_stream for reading: absent or not a regular file is 'not found', unreadable an I/O error."""
    if not os.path.isfile(path):
        raise UciError(ERR_NOTFOUND)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise UciError(ERR_IO)


class Ctx:
    def __init__(self):
        self.confdir = CONFDIR
        self.conf2dir = CONF2DIR
        self.savedir = SAVEDIR
        self.delta_path = [SAVEDIR]
        self.show_ext = True
        self.pctx = None  # the parse context an error message reports (ctx->pctx)
        self.error_info = ""  # uci_get_errorstr's static buffer: it only grows between parse errors

    def set_savedir(self, d):
        """uci_set_savedir: the save dir moves to the end of the delta path."""
        if d in self.delta_path:
            self.delta_path.remove(d)
        self.delta_path.append(d)
        self.savedir = d

    def perror(self, err):
        if err.msg == ERR_PARSE and self.pctx is not None:
            px = self.pctx
            self.error_info = " (%s) at line %d, byte %d" % (px.reason or "unknown", px.line, px.byte)
        self.error_info += "\n"
        sys.stderr.buffer.write(enc("uci: %s%s" % (err.msg, self.error_info)))

    def config_path(self, name, conf2=False):
        return os.path.join(self.conf2dir if conf2 else self.confdir, name)

    def load(self, name):
        """uci_file_load: the file (the override dir's when it has one), then every delta file replayed."""
        conf2 = True
        try:
            os.stat(self.config_path(name, True))
        except OSError:
            conf2 = False
        path = self.config_path(name, conf2)
        p = import_package(self, read_stream(path), name)
        p.path, p.uses_conf2 = path, conf2
        self.load_delta(p, False)
        return p

    def load_delta(self, p, flush):
        changes = sum(self.replay(p, os.path.join(d, p.name)) for d in self.delta_path)
        if flush and changes > 0:
            try:
                # opened for writing without O_CREAT: truncates only a file that exists
                fd = os.open(os.path.join(self.savedir, p.name), os.O_WRONLY | os.O_TRUNC)
                os.close(fd)
            except FileNotFoundError:
                pass
            except OSError:
                raise UciError(ERR_IO)
        return changes

    def replay(self, p, path):
        """uci_parse_delta: lines that do not parse or apply are skipped, but `changes` lists the latter."""
        try:
            px = Parser(read_stream(path))
        except UciError:
            return 0
        changes = 0
        while not px.eof:
            px.pos = 0
            px.getln(0)
            if not px.buf[0]:
                continue
            try:
                ptr, cmd = parse_delta_line(px)
            except UciError:
                continue
            if ptr.package != p.name:
                continue
            p.saved_delta.append((cmd, ptr.section, ptr.option, ptr.value))
            lookup_in(ptr, p)
            try:
                if cmd == CMD_REMOVE:
                    uci_delete(ptr, True)
                elif cmd == CMD_LIST_ADD:
                    uci_add_list(ptr, True)
                else:
                    uci_set(ptr, True)
            except UciError:
                continue
            changes += 1
        return changes

    def save(self, p):
        """uci_save: appends this call's changes to <savedir>/<package>."""
        if not p.delta:
            return
        if not os.path.lexists(self.savedir):
            try:
                mode = os.stat(self.confdir).st_mode & 0o7777  # the config dir's mode, else 0700
            except OSError:
                mode = 0o700
            try:
                os.mkdir(self.savedir, mode)
            except OSError:
                pass
        elif not os.path.isdir(self.savedir):
            raise UciError(ERR_IO)
        lines = []
        for cmd, sec, opt, val in p.delta:
            s = "%s%s.%s%s" % (cmd, p.name, sec, "" if opt is None else "." + opt)
            lines.append(s + "\n" if val is None else "%s=%s\n" % (s, quote(val)))
        p.delta = []
        try:
            fd = os.open(os.path.join(self.savedir, p.name), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                         self.new_file_mode(self.config_path(p.name)))  # the config dir's file, even with an override
            with os.fdopen(fd, "wb") as f:
                f.write(enc("".join(lines)))
        except OSError:
            raise UciError(ERR_IO)

    def new_file_mode(self, path):
        """uci_open_stream(create): a new file gets the mode of the package's config file, else 0600."""
        try:
            return os.stat(path).st_mode & 0o7777
        except OSError:
            return 0o600

    def write_file(self, p, path, conf2):
        """The end of uci_file_commit: temporary file in the config dir, fsync, chmod, rename over realpath."""
        tmp = os.path.join(self.conf2dir if conf2 else self.confdir, ".%s.uci-%s" % (p.name, os.urandom(3).hex()))
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            raise UciError(ERR_IO)
        with os.fdopen(fd, "wb") as f:
            f.write(enc(export_text(p, False)))
            f.flush()
            os.fsync(f.fileno())
        try:
            real = os.path.realpath(path, strict=True)
            os.chmod(tmp, os.stat(real).st_mode & 0o7777)
            os.rename(tmp, real)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise UciError(ERR_IO)

    def open_for_commit(self, path):
        """uci_open_stream(write, create) of the config file; its content as it is now."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, self.new_file_mode(path))
            with os.fdopen(fd, "rb") as f:
                return f.read()
        except OSError:
            raise UciError(ERR_IO)

    def commit(self, loaded):
        """uci_file_commit without overwrite: re-read the loaded package's file (the override dir's when
        it came from there), replay the deltas, write only if one applied."""
        data = self.open_for_commit(loaded.path)
        p = import_package(self, data, loaded.name)
        if self.load_delta(p, True) == 0:
            return
        self.write_file(p, loaded.path, loaded.uses_conf2)

    def import_overwrite(self, p):
        """uci_file_commit with overwrite (uci import): the package replaces the file in the config dir
        (an imported package was not loaded from the override dir); deltas stay staged."""
        path = self.config_path(p.name)
        self.open_for_commit(path)
        self.write_file(p, path, False)


def parse_delta_line(px):
    """uci_parse_delta_tuple: one argument per line, a command character, a tuple with a value."""
    a = next_arg(px, False, False, False)
    if px.cstr(px.pos):
        raise UciError(ERR_INVAL)
    arg = px.cstr(a)
    cmd = CMD_CHANGE
    if arg[:1] in (b"-", b"|"):
        cmd, arg = dec(arg[:1]), arg[1:]
    elif arg[:1] and arg[0] in OTHER_DELTA_CMDS:
        unsupported("replaying the delta line %r" % dec(arg))
    ptr = parse_ptr(arg)
    if ptr.section is None or ptr.extended:
        raise UciError(ERR_INVAL)
    if cmd == CMD_REMOVE and ptr.value is not None:
        unsupported("replaying the delta line %r (list item removal)" % dec(arg))
    if cmd != CMD_REMOVE and ptr.value is None:
        raise UciError(ERR_INVAL)
    if cmd == CMD_LIST_ADD and ptr.option is None:
        raise UciError(ERR_INVAL)
    return ptr, cmd


# ---------------------------------------------------------------- commands (cli.c)

def lookup(ctx, tuple_arg):
    """uci_lookup_ptr(extended): parse the tuple, load its package, find the section and option."""
    ptr = parse_ptr(tuple_arg)
    lookup_in(ptr, ctx.load(ptr.package))
    return ptr


def section_cmd(ctx, cmd, args):
    """uci_do_section_cmd: get, set, delete, add_list."""
    if len(args) != 1:
        unsupported("'%s' with %d arguments" % (cmd, len(args)))
    ptr = lookup(ctx, args[0])
    if cmd == "get":
        if ptr.value is not None:
            return 1  # silently, as uci does
        if not ptr.complete:
            raise UciError(ERR_NOTFOUND)
        if ptr.option is not None:
            write(show_value(ptr.s.options[ptr.option], False) + "\n")
        elif ptr.s is not None:
            write(ptr.s.type + "\n")
        return 0
    if cmd == "set":
        uci_set(ptr, False)
    elif cmd == "delete":
        if ptr.value is not None:
            unsupported("'delete' of a list item by index")
        uci_delete(ptr, False)
    else:
        uci_add_list(ptr, False)
    ctx.save(ptr.p)
    return 0


def package_cmd(ctx, cmd, args):
    """uci_do_package_cmd for one package: show (-X), changes, export, commit."""
    if len(args) != 1:
        unsupported("'%s' without exactly one package" % cmd)
    ptr = lookup(ctx, args[0])
    p = ptr.p
    if cmd == "show":
        if ctx.show_ext:
            unsupported("'show' without -X")
        if ptr.section is not None:
            unsupported("'show' of a section or option")
        if not ptr.complete:
            raise UciError(ERR_NOTFOUND)
        for s in p.sections:
            write("%s.%s=%s\n" % (p.name, s.name, s.type))
            for oname, v in s.options.items():
                write("%s.%s.%s=%s\n" % (p.name, s.name, oname, show_value(v, True)))
    elif cmd == "changes":
        for c, sec, opt, val in p.saved_delta:
            line = "%s%s.%s%s" % ("-" if c == CMD_REMOVE else "", p.name, sec, "" if opt is None else "." + opt)
            if c != CMD_REMOVE:
                line += ("+=" if c == CMD_LIST_ADD else "=") + quote(val)
            write(line + "\n")
    elif cmd == "export":
        write(export_text(p, True))
    else:
        ctx.commit(p)
    return 0


def import_cmd(ctx, args, stream):
    """uci_do_import of one named package, replacing the file."""
    if len(args) != 1:
        unsupported("'import' without exactly one package name")
    name = enc(args[0])
    if not validate_package(name):
        raise UciError(ERR_INVAL)
    ctx.import_overwrite(import_package(ctx, stream.read(), dec(name)))
    return 0


def run_command(ctx, argv, stream, in_batch):
    """uci_cmd: command names are case-insensitive; 255 for an unknown one."""
    cmd, args = argv[0].lower(), argv[1:]
    if cmd in ("get", "set", "delete", "add_list"):
        return section_cmd(ctx, cmd, args)
    if cmd in ("show", "changes", "export", "commit"):
        return package_cmd(ctx, cmd, args)
    if cmd == "import":
        if in_batch:
            unsupported("'import' in a batch")
        return import_cmd(ctx, args, stream)
    if cmd == "batch":
        return 255 if in_batch else batch(ctx, stream)
    if cmd in ("add", "del_list", "del", "rename", "ren", "revert", "reorder", "help"):
        unsupported("the '%s' command" % cmd)
    return 255


def batch(ctx, stream):
    """uci_batch: one command per line; errors are printed and the batch goes on; always exit 0."""
    px = Parser(stream.read())
    while not px.eof:
        ret = batch_cmd(ctx, px)
        if ret == 254:
            break
        if ret == 255:
            sys.stderr.write("Unknown command\n")
    return 0


def batch_cmd(ctx, px):
    argv = []
    for i in range(MAX_ARGS + 1):
        if i == MAX_ARGS:
            sys.stderr.write("Too many arguments\n")
            return 1
        if ctx.pctx is not px:
            # a command that loaded a package freed the batch's parse context: a new one counts from 0
            px.line, px.reason, px.byte = 0, None, 0
            ctx.pctx = px
        try:
            if i == 0:
                px.pos = 0
                px.getln(0)
            arg = px.cstr(next_arg(px, False, False, False))
        except UciError as e:
            ctx.perror(e)
            return 0
        if not arg:
            break
        argv.append(dec(arg))
    if not argv:
        return 0
    if argv[0].lower() == "exit":
        return 254
    try:
        return run_command(ctx, argv, None, True)
    except UciError as e:
        ctx.perror(e)
        return 1


def main(argv):
    ctx = Ctx()
    stream = sys.stdin.buffer
    i = 1
    # musl's getopt (OpenWRT) stops at the first argument that is not an option
    while i < len(argv) and argv[i].startswith("-") and len(argv[i]) > 1:
        if argv[i] == "--":
            i += 1
            break
        flags = argv[i][1:]
        for j, f in enumerate(flags):
            if f == "X":
                ctx.show_ext = False
                continue
            if f == "t" and NO_T:
                # getopt rejects it, cli.c prints its usage and returns 0: exit 0, nothing on stdout
                sys.stderr.write("uci: unrecognized option: t\nUsage: uci [<options>] <command> [<arguments>]\n")
                return 0
            if f not in "ctf":
                unsupported("option -%s" % f)
            val = flags[j + 1:] or (argv[i + 1] if i + 1 < len(argv) else None)
            if val is None:
                unsupported("option -%s without its argument" % f)
            if not flags[j + 1:]:
                i += 1
            if f == "c":
                ctx.confdir = val
            elif f == "t":
                ctx.set_savedir(val)
            else:
                if stream is not sys.stdin.buffer:
                    sys.stderr.write("Too many input files.\n")
                    return 1
                try:
                    stream = open(val, "rb")
                except OSError as e:
                    sys.stderr.write("uci: %s" % e.strerror)  # no newline, as in cli.c
                    return 1
            break
        i += 1
    if i >= len(argv):
        unsupported("uci without a command")
    try:
        ret = run_command(ctx, argv[i:], stream, False)
    except UciError as e:
        ctx.perror(e)
        return 1
    if ret == 255:
        unsupported("the command '%s'" % argv[i])
    return ret


def run():
    try:
        code = main(sys.argv)
    except Unsupported as e:
        sys.stderr.write("%s\n" % e)
        code = 255
    except BrokenPipeError:
        code = 1
    sys.stdout.flush()
    sys.exit(code)
