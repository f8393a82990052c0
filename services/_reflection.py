"""Server reflection in both protocol versions.

grpcio-reflection ships only ``grpc.reflection.v1alpha``. The v1 protocol has the
same messages under the package ``grpc.reflection.v1``; we build those message
classes from the v1alpha descriptor and answer v1 calls through the v1alpha
servicer, converting each message by its (identical) wire bytes.

Services whose messages live in a descriptor pool of their own (the Open Inference Protocol's,
scripts/generate_stubs.py) are described from that pool: reflection searches the given pools in
turn, then protobuf's default pool.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_SERVICE = "grpc.reflection.v1.ServerReflection"


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = "grpc.reflection.v1"
    for message in proto.message_type:
        for field in message.field:
            if field.type_name:
                field.type_name = field.type_name.replace(".v1alpha.", ".v1.")
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.")
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.")
    return proto


def _v1_messages():
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName("grpc/reflection/v1/reflection.proto")
    except KeyError:
        pool.Add(_v1_file())
    get = lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))  # noqa: E731
    return get("grpc.reflection.v1.ServerReflectionRequest"), get("grpc.reflection.v1.ServerReflectionResponse")


class _Pools:
    """Descriptor pools searched in turn, as one pool: the first that knows a name answers (the
    ``Find*`` calls of a ``DescriptorPool``, which raise KeyError for a name they do not know)."""

    def __init__(self, pools):
        self._pools = tuple(pools)

    def __getattr__(self, method: str):
        def find(*args):
            for pool in self._pools[:-1]:
                try:
                    return getattr(pool, method)(*args)
                except KeyError:
                    continue
            return getattr(self._pools[-1], method)(*args)
        return find


def enable_reflection(server, service_names, pools=()) -> None:
    """Serve reflection v1 and v1alpha for ``service_names`` (both reflection services are added),
    describing them from ``pools`` (descriptor pools, searched in turn) and the default pool."""
    names = tuple(service_names) + (reflection.SERVICE_NAME, V1_SERVICE)
    pool = _Pools([*pools, descriptor_pool.Default()])
    alpha = reflection.ReflectionServicer(names, pool=pool)
    request_v1, response_v1 = _v1_messages()

    def info(request_iterator, context):
        alpha_requests = (reflection_pb2.ServerReflectionRequest.FromString(r.SerializeToString())
                          for r in request_iterator)
        for answer in alpha.ServerReflectionInfo(alpha_requests, context):
            yield response_v1.FromString(answer.SerializeToString())

    handler = grpc.method_handlers_generic_handler(V1_SERVICE, {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            info, request_deserializer=request_v1.FromString,
            response_serializer=response_v1.SerializeToString)})
    server.add_generic_rpc_handlers((handler,))
    reflection.enable_server_reflection(names, server, pool=pool)
