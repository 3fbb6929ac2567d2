"""Rendered specs validate against the OCI runtime-spec JSON schema.

Every `expect` conformance case for a linux platform, plus a few option lists
that together exercise most linux options, is rendered with bundlefs-render
and checked against config-schema.json (../shared/runtime-spec-schema when it
exists, else tests/schema), with its $refs resolved to the files beside it.
Where containerd's own recorded output breaks the schema (case 161: a
namespace whose type is ""), the rendering must break it in the same places
and no others.
"""
import pytest

from support import (
    all_cases,
    assert_rendered,
    case_ops,
    config_validator,
    copy_rootfs,
    make_bundle,
    render_case_cli,
    render_cli,
    schema_errors,
    with_placeholder,
)

LINUX_CASES = [c for c in all_cases() if not c.is_error and c.os == "linux"]

# Option lists beyond the cases, for a linux/amd64 container whose rootfs is
# the fixtures' rootfs/ (users alice, bob, ...).
EXTRA_OPTION_LISTS = {
    "mounts-and-devices": [
        'WithMounts [{"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","ro"]},'
        '{"destination":"/scratch","type":"tmpfs","source":"tmpfs","options":["size=64m"]}]',
        "WithoutMounts /dev/mqueue",
        "WithHostHostsFile",
        "WithHostResolvconf",
        "WithHostLocaltime",
        "WithDevShmSize 131072",
        "WithLinuxDevice /dev/null rwm",
        "WithLinuxDeviceFollowSymlinks @FIXTURES@/devlink rw",
        'WithDevices /dev/zero /dev/zero0 rw',
        'WithLinuxDevices [{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438,"uid":0,"gid":0}]',
        "WithDefaultUnixDevices",
        "WithHostDevices",
        "WithWriteableSysfs",
        "WithWriteableCgroupfs",
        "WithoutRunMount",
    ],
    "resources": [
        "WithMemoryLimit 536870912",
        "WithMemorySwap -1",
        "WithPidsLimit 256",
        "WithCPUShares 512",
        "WithCPUCFS 50000 100000",
        "WithCPURT 950000 1000000",
        "WithCPUs 0-3",
        "WithCPUsMems 0",
        'WithBlockIO {"weight":500,"leafWeight":300,'
        '"weightDevice":[{"major":8,"minor":0,"weight":600}],'
        '"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],'
        '"throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":100}]}',
        "WithRdt COS1 L3:0=ff MB:0=50",
        "WithAllDevicesAllowed",
        "WithParentCgroupDevices",
    ],
    "namespaces-and-user-namespace": [
        "WithHostNamespace network",
        "WithHostNamespace pid",
        "WithLinuxNamespace ipc /proc/1/ns/ipc",
        "WithLinuxNamespace cgroup",
        'WithUserNamespace [{"containerID":0,"hostID":100000,"size":65536}] '
        '[{"containerID":0,"hostID":200000,"size":65536}]',
        "WithCgroup /bundlefs/test",
        "WithNamespacedCgroup",
        "WithHostname box",
        "WithDomainname example.org",
    ],
    "capabilities-and-security": [
        "WithAllKnownCapabilities",
        "WithDroppedCapabilities CAP_SYS_ADMIN CAP_SYS_MODULE",
        "WithAddedCapabilities CAP_BPF",
        "WithAmbientCapabilities CAP_NET_BIND_SERVICE",
        "WithNoNewPrivileges",
        "WithSelinuxLabel system_u:system_r:container_t:s0",
        "WithApparmorProfile bundlefs-default",
        "WithMaskedPaths /proc/kcore /proc/keys",
        "WithReadonlyPaths /proc/sys",
        "WithSeccompUnconfined",
    ],
    "privileged": [
        "WithPrivileged",
        "WithHostDevices",
        "WithAllDevicesAllowed",
        "WithTTY",
        "WithTTYSize 120 40",
    ],
    "process-user-annotations": [
        "WithUser alice",
        "WithAdditionalGIDs alice",
        "WithAppendAdditionalGroups audio 44",
        "WithEnv APP=1 \"GREETING=hello world\"",
        "WithEnvFile @FIXTURES@/env/comments.env",
        "WithProcessArgs /bin/sh -c \"echo hi\"",
        "WithProcessCwd /srv",
        "WithRootFSReadonly",
        "WithAnnotations org.example.a=1 org.example.b=x=y",
    ],
    "image-config": [
        "WithImageConfig @FIXTURES@/images/nginx.json",
        "WithImageConfigArgs @FIXTURES@/images/user-name.json /bin/true",
    ],
    "spec-from-file-with-seccomp": [
        "WithSpecFromFile @FIXTURES@/specs/full.json",
        "WithMemoryLimit 1073741824",
        "WithAddedCapabilities CAP_CHOWN",
        "WithAnnotations org.example.extra=yes",
        "WithRdt COS2 L3:0=f \"\"",
        'WithBlockIO {"weight":100}',
        "WithRootFSPath rootfs",
    ],
}


@pytest.fixture(scope="module")
def validator():
    return config_validator()


def assert_valid(validator, config, what):
    errors = schema_errors(validator, config)
    assert not errors, f"{what} breaks the runtime-spec schema:\n  " + "\n  ".join(errors[:30])


@pytest.mark.parametrize("case", LINUX_CASES, ids=[c.file_name for c in LINUX_CASES])
def test_linux_case_renders_a_valid_spec(case, render_bin, fixtures_copy, tmp_path, validator):
    bundle = make_bundle(case, fixtures_copy, tmp_path)
    result = render_case_cli(render_bin, case, case_ops(case, fixtures_copy), bundle)
    config = assert_rendered(result, case.file_name)
    recorded = schema_errors(validator, case.expect)
    if not recorded:
        assert_valid(validator, config, case.file_name)
        return
    # containerd itself rendered a spec the schema refuses (a namespace of
    # type "", say): bundlefs breaks it in exactly the same places, no more.
    assert schema_errors(validator, with_placeholder(config, fixtures_copy)) == recorded, \
        f"{case.file_name} breaks the schema otherwise than containerd's own output does"


@pytest.mark.parametrize("name", sorted(EXTRA_OPTION_LISTS))
def test_option_list_renders_a_valid_spec(name, render_bin, fixtures_copy, tmp_path, validator):
    bundle = tmp_path / "bundle"
    copy_rootfs(fixtures_copy / "rootfs", bundle / "rootfs")
    lines = [line.replace("@FIXTURES@", str(fixtures_copy)) for line in EXTRA_OPTION_LISTS[name]]
    result = render_cli(render_bin, lines, namespace="default", id="schema-check",
                        platform="linux/amd64", bundle=bundle)
    assert_valid(validator, assert_rendered(result, name), name)


def test_schema_rejects_a_broken_spec(validator):
    """The validator really checks (and resolves $refs into defs files): a
    spec with wrong types deep inside is rejected."""
    broken = {"ociVersion": "1.1.0", "process": {"user": {"uid": -1, "gid": "0"}, "cwd": "/"},
              "linux": {"resources": {"memory": {"limit": "lots"}}}}
    assert len(schema_errors(validator, broken)) >= 3
