import gdb, os
V = int(os.environ["V"])
def let_go(pid):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        print("wait", os.waitpid(pid, 0x40000000))
    except ChildProcessError as e:
        print("wait failed", e)
    r = libc.ptrace(ctypes.c_long(17), ctypes.c_long(pid), ctypes.c_void_p(0), ctypes.c_void_p(0))
    print("detach", r, ctypes.get_errno())
    os.kill(os.getpid(), 9)
def on_thread(ev):
    t = ev.inferior_thread
    print("new thread", t.ptid, t.inferior.pid)
    if t.ptid[1] == 0 and t.inferior.pid == V:
        let_go(V)
gdb.events.new_thread.connect(on_thread)
