"""OCI image layouts written by the tests themselves: blobs, layers (tar,
gzip, zstd), configs, manifests, indexes and index.json, with Python's
tarfile, gzip and hashlib (and the zstd command for zstd layers)."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import pathlib
import platform
import subprocess
import tarfile
from typing import Any, Iterable

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"

# A fixed time for every entry, so layers are reproducible.
MTIME = 1_600_000_000


# ---- tar entries ------------------------------------------------------------------

@dataclasses.dataclass
class Entry:
    """One tar member: what tarfile writes, plus its data."""
    info: tarfile.TarInfo
    data: bytes = b""


def _info(name: str, type_: bytes, mode: int, uid: int, gid: int, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = ""
    ti.mtime = mtime
    return ti


def _xattrs(ti: tarfile.TarInfo, xattrs: dict[str, bytes] | None) -> None:
    # PAX records SCHILY.xattr.<name>; binary values go through surrogateescape,
    # which tarfile writes back as the raw bytes (with hdrcharset=BINARY).
    for key, value in (xattrs or {}).items():
        ti.pax_headers["SCHILY.xattr." + key] = value.decode("utf-8", "surrogateescape")


def file(name: str, data: bytes | str = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
         mtime: int = MTIME, xattrs: dict[str, bytes] | None = None) -> Entry:
    data = data.encode() if isinstance(data, str) else data
    ti = _info(name, tarfile.REGTYPE, mode, uid, gid, mtime)
    ti.size = len(data)
    _xattrs(ti, xattrs)
    return Entry(ti, data)


def directory(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: int = MTIME,
              xattrs: dict[str, bytes] | None = None) -> Entry:
    ti = _info(name, tarfile.DIRTYPE, mode, uid, gid, mtime)
    _xattrs(ti, xattrs)
    return Entry(ti)


def symlink(name: str, target: str, uid: int = 0, gid: int = 0, mtime: int = MTIME) -> Entry:
    ti = _info(name, tarfile.SYMTYPE, 0o777, uid, gid, mtime)
    ti.linkname = target
    return Entry(ti)


def hardlink(name: str, target: str, mode: int = 0o644, uid: int = 0, gid: int = 0,
             mtime: int = MTIME) -> Entry:
    ti = _info(name, tarfile.LNKTYPE, mode, uid, gid, mtime)
    ti.linkname = target
    return Entry(ti)


def fifo(name: str, mode: int = 0o600, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(_info(name, tarfile.FIFOTYPE, mode, uid, gid, MTIME))


def chardev(name: str, major: int, minor: int, mode: int = 0o666) -> Entry:
    ti = _info(name, tarfile.CHRTYPE, mode, 0, 0, MTIME)
    ti.devmajor, ti.devminor = major, minor
    return Entry(ti)


def blockdev(name: str, major: int, minor: int, mode: int = 0o660) -> Entry:
    ti = _info(name, tarfile.BLKTYPE, mode, 0, 0, MTIME)
    ti.devmajor, ti.devminor = major, minor
    return Entry(ti)


def whiteout(path: str) -> Entry:
    """The entry that deletes path of a lower layer."""
    parent, base = os.path.split(path)
    return file(os.path.join(parent, ".wh." + base))


def opaque(directory_path: str) -> Entry:
    """The entry that hides everything lower layers put in directory_path."""
    return file(os.path.join(directory_path, ".wh..wh..opq"))


def tar_bytes(entries: Iterable[Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            tf.addfile(e.info, io.BytesIO(e.data) if e.info.isreg() else None)
    return out.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True,
                              check=True).stdout
    assert compression == "none", compression
    return data


LAYER_TYPES = {"none": OCI_LAYER, "gzip": OCI_LAYER + "+gzip", "zstd": OCI_LAYER + "+zstd"}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---- the layout ---------------------------------------------------------------------

class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, path: pathlib.Path | str):
        self.path = pathlib.Path(path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.tags: list[dict[str, Any]] = []

    def ref(self, tag: str | None = None) -> str:
        return f"oci:{self.path}" + (f":{tag}" if tag else "")

    def blob_path(self, digest: str) -> pathlib.Path:
        alg, hexdigits = digest.split(":", 1)
        return self.path / "blobs" / alg / hexdigits

    def blob(self, data: bytes, media_type: str, alg: str = "sha256", **extra: Any) -> dict[str, Any]:
        """Store data; its descriptor."""
        digest = f"{alg}:" + hashlib.new(alg, data).hexdigest()
        path = self.blob_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    def json_blob(self, doc: Any, media_type: str, **extra: Any) -> dict[str, Any]:
        return self.blob(json.dumps(doc).encode(), media_type, **extra)

    def layer(self, entries: Iterable[Entry], compression: str = "gzip",
              media_type: str | None = None) -> tuple[dict[str, Any], str]:
        """A layer blob of entries; its descriptor and diff ID."""
        raw = tar_bytes(entries)
        return self.raw_layer(raw, compression, media_type)

    def slow_layer(self, repeats: int = 1000) -> tuple[dict[str, Any], str]:
        """A layer that takes a minute or more to unpack, for the tests that
        act while an unpack runs: a thousand one-byte files written over and
        over, a million entries in all (one gzip member, repeated: a gzip
        stream may hold several), 8 MiB on disk. Its digest and diff ID are
        wrong: the unpack checks them at the layer's end, which those tests
        never let it reach (had it reached it, it would fail, not pass)."""
        chunk = bytearray()
        for i in range(1000):
            ti = _info(f"f{i}", tarfile.REGTYPE, 0o644, 0, 0, MTIME)
            ti.size = 1
            chunk += ti.tobuf(tarfile.USTAR_FORMAT) + b"x".ljust(tarfile.BLOCKSIZE, b"\0")
        member = gzip.compress(bytes(chunk), compresslevel=9, mtime=0)
        data = member * repeats + gzip.compress(b"\0" * 2 * tarfile.BLOCKSIZE, mtime=0)
        wrong = sha256(b"checked at the layer's end only")
        path = self.blob_path(wrong)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return {"mediaType": LAYER_TYPES["gzip"], "digest": wrong, "size": len(data)}, wrong

    def raw_layer(self, raw_tar: bytes, compression: str = "gzip",
                  media_type: str | None = None) -> tuple[dict[str, Any], str]:
        desc = self.blob(compress(raw_tar, compression), media_type or LAYER_TYPES[compression])
        return desc, sha256(raw_tar)

    def image(self, layers: list[tuple[dict[str, Any], str]] | None = None,
              config: dict[str, Any] | None = None, os_: str = "linux", arch: str = "amd64",
              variant: str | None = None, platform_in_descriptor: bool = True,
              docker: bool = False) -> dict[str, Any]:
        """A config and a manifest for layers; the manifest's descriptor
        (with its platform unless told otherwise)."""
        layers = layers or []
        image_config: dict[str, Any] = {
            "architecture": arch, "os": os_,
            "config": config if config is not None else {},
            "rootfs": {"type": "layers", "diff_ids": [diff for _, diff in layers]},
        }
        if variant:
            image_config["variant"] = variant
        cfg = self.json_blob(image_config, DOCKER_CONFIG if docker else OCI_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": cfg,
            "layers": [desc for desc, _ in layers],
        }
        extra: dict[str, Any] = {}
        if platform_in_descriptor:
            extra["platform"] = {"architecture": arch, "os": os_, **({"variant": variant} if variant else {})}
        return self.json_blob(manifest, manifest["mediaType"], **extra)

    def index(self, manifests: list[dict[str, Any]], docker: bool = False) -> dict[str, Any]:
        media_type = DOCKER_LIST if docker else OCI_INDEX
        doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
        return self.json_blob(doc, media_type)

    def tag(self, descriptor: dict[str, Any], name: str | None) -> None:
        """List descriptor in index.json, tagged name (None: untagged), and write it."""
        d = dict(descriptor)
        d.pop("platform", None) if d.get("mediaType") in (OCI_INDEX, DOCKER_LIST) else None
        if name is not None:
            d["annotations"] = {**d.get("annotations", {}), REF_NAME: name}
        self.tags.append(d)
        self.write_index()

    def write_index(self) -> None:
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.tags}
        tmp = self.path / "index.json.tmp"
        tmp.write_text(json.dumps(doc))
        tmp.rename(self.path / "index.json")


# ---- a busybox image ------------------------------------------------------------------

BUSYBOX = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)


def host_arch() -> str:
    """This machine's architecture as OCI platforms name it."""
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386"}.get(machine, machine)


def busybox_image(layout: Layout, tag: str = "v1", arch: str | None = None, user: str = "app") -> str:
    """Tag an index of two images: for arch (default: this machine's), two
    layers of a static busybox (/bin/busybox, applets, passwd and group
    naming user app 1234:4321; the second layer, zstd, replaces /etc/motd and
    whites out /bin/pwd) and a config whose User is user (app, or 1234:4321
    to need no look-up) and whose Entrypoint and Cmd print the environment,
    the user and /etc/motd; for another architecture, an image whose Cmd is
    `false`. Returns what the first image's process prints."""
    assert BUSYBOX, "busybox-static is needed (scripts/deps)"
    arch = arch or host_arch()
    applets = ["sh", "echo", "id", "cat", "pwd"]
    base = layout.layer(
        [directory(d) for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "home", "home/app")]
        + [file("bin/busybox", pathlib.Path(BUSYBOX).read_bytes(), mode=0o755)]
        + [symlink(f"bin/{a}", "busybox") for a in applets]
        + [file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321:app:/home/app:/bin/sh\n"),
           file("etc/group", "root:x:0:\napp:x:4321:\n"), file("etc/motd", "from layer one\n")])
    top = layout.layer([file("etc/motd", "from layer two\n"), whiteout("bin/pwd")], "zstd")
    config = {"User": user, "Env": ["PATH=/bin", "GREETING=hi"], "WorkingDir": "/home/app",
              "Entrypoint": ["/bin/sh", "-c"],
              "Cmd": ['echo "$GREETING $(id -u):$(id -g) $(cat /etc/motd)"; test -e /bin/pwd || echo no pwd']}
    other = "s390x" if arch != "s390x" else "arm64"
    layout.tag(layout.index([layout.image(layers=[base, top], config=config, arch=arch),
                             layout.image(layers=[base], config={"Cmd": ["false"]}, arch=other)]), tag)
    return "hi 1234:4321 from layer two\nno pwd\n"
