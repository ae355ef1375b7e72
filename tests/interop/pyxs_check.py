#!/usr/bin/env python3
"""pyxs (an independent Python Xenstore client) against xenwire-xenstored.

Usage: pyxs_check.py DOM0_SOCKET GUEST_SOCKET GUEST_DOMID
Prints one "PASS name" / "FAIL name: why" line per check; exits 1 if any failed.
"""
import errno
import queue
import sys
import traceback

from pyxs import Client, PyXSError

dom0_socket, guest_socket, guest_domid = sys.argv[1], sys.argv[2], int(sys.argv[3])
home = b"/local/domain/%d" % guest_domid
failures = 0


def check(name):
    def run(fn):
        global failures
        try:
            fn()
            print("PASS " + name, flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            failures += 1
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            print("FAIL %s: %s" % (name, detail), flush=True)
        return fn
    return run


def expect_errno(code, fn, *args):
    try:
        fn(*args)
    except PyXSError as e:
        if e.args[0] != code:
            raise AssertionError("expected %s, got %r" % (errno.errorcode[code], e.args)) from e
        return
    raise AssertionError("expected %s, the call succeeded" % errno.errorcode[code])


def next_event(monitor, timeout=5):
    try:
        return monitor.events.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("no watch event within %ss" % timeout) from None


def dom0():
    return Client(unix_socket_path=dom0_socket)


@check("pyxs read/write")
def _():
    with dom0() as c:
        c.write(b"/pyxs/a", b"alpha")
        # (pyxs itself only sends 7-bit ASCII)
        c.write(b"/pyxs/b", b"two words, ~!\x7f")
        assert c.read(b"/pyxs/a") == b"alpha"
        assert c.read(b"/pyxs/b") == b"two words, ~!\x7f"
        assert c.read(b"/pyxs/none", b"dflt") == b"dflt"
        expect_errno(errno.ENOENT, c.read, b"/pyxs/none")


@check("pyxs ls/exists/mkdir")
def _():
    with dom0() as c:
        c.mkdir(b"/pyxs/dir/sub")
        assert sorted(c.list(b"/pyxs")) == [b"a", b"b", b"dir"], c.list(b"/pyxs")
        assert c.exists(b"/pyxs/dir/sub")
        assert not c.exists(b"/pyxs/missing")
        assert c.read(b"/pyxs/dir/sub") == b""


@check("pyxs rm")
def _():
    with dom0() as c:
        c.delete(b"/pyxs/dir")
        assert not c.exists(b"/pyxs/dir/sub")
        assert sorted(c.list(b"/pyxs")) == [b"a", b"b"]
        c.delete(b"/pyxs/gone")  # a missing child of an existing node is not an error
        expect_errno(errno.ENOENT, c.delete, b"/pyxs/gone/deeper")


@check("pyxs perms")
def _():
    with dom0() as c:
        assert c.get_perms(b"/pyxs/a") == [b"n0"], c.get_perms(b"/pyxs/a")
        c.set_perms(b"/pyxs/a", [b"n0", b"r%d" % guest_domid])
        assert c.get_perms(b"/pyxs/a") == [b"n0", b"r%d" % guest_domid]
        c.write(b"/pyxs/a/child", b"x")  # children inherit the parent's perms
        assert c.get_perms(b"/pyxs/a/child") == [b"n0", b"r%d" % guest_domid]


@check("pyxs transaction commit/abort")
def _():
    with dom0() as c:
        c.transaction()
        c.write(b"/pyxs/tx", b"in-tx")
        with dom0() as other:
            assert not other.exists(b"/pyxs/tx"), "uncommitted write visible"
        assert c.commit()
        assert c.read(b"/pyxs/tx") == b"in-tx"
        c.transaction()
        c.write(b"/pyxs/tx", b"aborted")
        c.rollback()
        assert c.read(b"/pyxs/tx") == b"in-tx"


@check("pyxs transaction conflict")
def _():
    with dom0() as c, dom0() as other:
        c.transaction()
        assert c.read(b"/pyxs/tx") == b"in-tx"
        c.write(b"/pyxs/tx2", b"mine")
        other.write(b"/pyxs/tx", b"changed")
        assert not c.commit(), "conflicting commit succeeded"
        assert not c.exists(b"/pyxs/tx2")


@check("pyxs watch")
def _():
    with dom0() as c, dom0() as writer:
        m = c.monitor()
        m.watch(b"/pyxs/w", b"tok")
        assert next_event(m) == (b"/pyxs/w", b"tok")  # registration fires once
        writer.write(b"/pyxs/w/x", b"1")
        assert next_event(m) == (b"/pyxs/w/x", b"tok")
        writer.delete(b"/pyxs/w")
        assert next_event(m) == (b"/pyxs/w", b"tok")
        m.unwatch(b"/pyxs/w", b"tok")
        writer.write(b"/pyxs/w", b"after")
        try:
            extra = m.events.get(timeout=0.3)
        except queue.Empty:
            extra = None
        assert extra is None, "event after unwatch: %r" % (extra,)


@check("pyxs guest: home path and relative paths")
def _():
    with Client(unix_socket_path=guest_socket) as g, dom0() as c:
        assert g.get_domain_path(guest_domid) == home
        g.write(b"data/x", b"guest")
        assert g.read(b"data/x") == b"guest"
        assert c.read(home + b"/data/x") == b"guest"
        assert g.list(b"data") == [b"x"]
        assert c.get_perms(home + b"/data/x")[0] == b"n%d" % guest_domid  # owned by the guest


@check("pyxs guest: EACCES on dom0's nodes")
def _():
    with Client(unix_socket_path=guest_socket) as g:
        expect_errno(errno.EACCES, g.read, b"/pyxs/b")
        expect_errno(errno.EACCES, g.write, b"/pyxs/b", b"stolen")
        expect_errno(errno.EACCES, g.delete, b"/pyxs/b")
        expect_errno(errno.EACCES, g.set_perms, b"/pyxs/b", [b"b%d" % guest_domid])
        expect_errno(errno.EACCES, g.write, b"/pyxs-guest-root", b"x")
        assert g.read(b"/pyxs/a") == b"alpha"  # granted r<guest> above
        expect_errno(errno.EACCES, g.write, b"/pyxs/a", b"no")


@check("pyxs guest: watch relative path")
def _():
    with Client(unix_socket_path=guest_socket) as g, dom0() as c:
        m = g.monitor()
        m.watch(b"data", b"rel")
        assert next_event(m) == (b"data", b"rel")
        c.write(home + b"/data/y", b"from dom0")
        assert next_event(m) == (b"data/y", b"rel")


@check("pyxs is_domain_introduced(0) is True (as C xenstored and oxenstored)")
def _():
    with dom0() as c:
        assert c.is_domain_introduced(0) is True


@check("pyxs guest: a DOMID_ANY (32757) entry grants every domain")
def _():
    with Client(unix_socket_path=guest_socket) as g, dom0() as c:
        c.write(b"/pyxs/any", b"for all")
        c.set_perms(b"/pyxs/any", [b"n0", b"r32757"])
        assert g.read(b"/pyxs/any") == b"for all"
        expect_errno(errno.EACCES, g.write, b"/pyxs/any", b"no")


@check("pyxs guest: @releaseDomain readable by every domain (Xen 4.22)")
def _():
    with Client(unix_socket_path=guest_socket) as g:
        assert [p for p in g.get_perms(b"@releaseDomain") if p] == [b"n0", b"r32757"]
        expect_errno(errno.EACCES, g.get_perms, b"@introduceDomain")


sys.exit(1 if failures else 0)
