"""cc_grpc_proto: .proto files → a C++ (+ gRPC) library, with system protoc.

Bazel 4.2.3's own proto rules want @com_google_protobuf from the network, so a
genrule runs Debian's `protoc` and `grpc_cpp_plugin` instead. Call it from the
package that is the proto root (`proto/`): a file `dbgd/v1/x.proto` is
imported as "dbgd/v1/x.proto" and its header included as "dbgd/v1/x.pb.h".
"""

def cc_grpc_proto(name, srcs, deps = [], grpc = False, visibility = None):
    """Generates and compiles C++ for `srcs`.

    Args:
      name: the cc_library's name.
      srcs: .proto files, relative to this package.
      deps: other cc_grpc_proto targets whose protos `srcs` import.
      grpc: also generate gRPC service stubs.
      visibility: of the cc_library.
    """
    stems = [s[:-len(".proto")] for s in srcs]
    hdrs = [s + ".pb.h" for s in stems]
    cc_srcs = [s + ".pb.cc" for s in stems]
    if grpc:
        hdrs += [s + ".grpc.pb.h" for s in stems]
        cc_srcs += [s + ".grpc.pb.cc" for s in stems]

    out_dir = "$(GENDIR)/" + native.package_name()
    # Sources may also be generated into this package (copies of system
    # protos): they are imported from the output tree.
    cmd = "$(location @system//:bin/protoc) -I" + native.package_name()
    cmd += " -I" + out_dir
    cmd += " --cpp_out=" + out_dir
    tools = ["@system//:bin/protoc"]
    if grpc:
        cmd += " --grpc_out=" + out_dir
        cmd += " --plugin=protoc-gen-grpc=$(location @system//:bin/grpc_cpp_plugin)"
        tools.append("@system//:bin/grpc_cpp_plugin")
    cmd += " $(SRCS)"

    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = hdrs + cc_srcs,
        cmd = cmd.replace("$(SRCS)", " ".join(["$(location {})".format(s) for s in srcs])),
        tools = tools,
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = cc_srcs,
        hdrs = hdrs,
        includes = ["."],
        deps = deps + ["@system//:protobuf"] + (["@system//:grpcpp"] if grpc else []),
        visibility = visibility,
    )
