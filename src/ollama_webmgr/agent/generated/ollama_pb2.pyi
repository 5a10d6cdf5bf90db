from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SystemInfoRequest(_message.Message):
    __slots__ = ("include_hardware_details",)
    INCLUDE_HARDWARE_DETAILS_FIELD_NUMBER: _ClassVar[int]
    include_hardware_details: bool
    def __init__(self, include_hardware_details: _Optional[bool] = ...) -> None: ...

class SystemInfoResponse(_message.Message):
    __slots__ = ("system", "cpu", "memory", "disk", "gpu")
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    DISK_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    system: str
    cpu: str
    memory: str
    disk: str
    gpu: str
    def __init__(self, system: _Optional[str] = ..., cpu: _Optional[str] = ..., memory: _Optional[str] = ..., disk: _Optional[str] = ..., gpu: _Optional[str] = ...) -> None: ...
