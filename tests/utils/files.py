"""What the file system holding a sample can truthfully report about its page cache."""

from pathlib import Path

import pytest

__all__ = ["cold_read_reports", "file_system_type"]

# Where cached pages can be dropped, a cold read must drop them; where the file is
# the memory (tmpfs), there is nothing to evict: the reader says False, or None
# when the kernel cannot answer its RWF_NOWAIT question for that file system.
_DISK_FILE_SYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs"})
_MEMORY_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs"})


def file_system_type(path: Path) -> str:
    """The type of the file system holding ``path``: its longest mount point in /proc/mounts."""
    resolved = path.resolve()
    best, kind = Path("/"), ""
    for line in Path("/proc/mounts").read_text().splitlines():
        _device, mount_point, fs_type, *_ = line.split()
        mount = Path(mount_point.replace("\\040", " "))
        if resolved.is_relative_to(mount) and len(mount.parts) >= len(best.parts):
            best, kind = mount, fs_type
    return kind


def cold_read_reports(path: Path) -> set[bool | None]:
    """What a cold read of ``path`` may truthfully report as ``evicted`` on its file system."""
    kind = file_system_type(path)
    if kind in _DISK_FILE_SYSTEMS:
        return {True}
    if kind in _MEMORY_FILE_SYSTEMS:
        return {False, None}
    pytest.skip(f"no known page-cache behaviour for a {kind or 'unknown'} file system")
