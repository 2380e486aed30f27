"""Real installs of our packages, with the clients operators use.

The packages are built by the engine (`hub package --request`, nfpm) from a small manifest
(`demo_exporter`: a config file and a web config in /etc, a secret in the service's home, a
directory owned by the service user, systemd arguments) around a real exporter: Debian's
node_exporter build for amd64 and arm64, fetched through `hub.upstream.mirror`
(integration.demo_packages, shared with the lifecycle tests). Then:

- dnf installs, upgrades, reinstalls and removes the el9 x86_64 RPM in an EL-like root;
- dpkg (the root's own, chrooted) does the same with the debian-12 amd64 DEB in a Debian root;
- rpm installs the el9 aarch64 RPM (--ignorearch), dpkg-deb unpacks the arm64 DEB, and
  qemu-aarch64-static runs both binaries.

Neither root runs systemd, so the maintainer scripts must cope without it. The service itself
is run as systemd would: the ExecStart of the installed unit, with the EnvironmentFile's
$ARGS, as the unit's User= (chroot --userspec), and scraped over HTTP.

Each test unpacks its own root (see roots.py). HUB_NFPM names the nfpm binary:
`source "$(build-support/ci/install-tools.sh | tail -n 1)"` sets it, as build-support/ci/test.sh
does. Run as root; about a minute on 2 cores once the cached Debian root exists.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from hub.upstream import lock as fetch
from hub.upstream import repack
from integration.demo_packages import (
    ARGUMENTS,
    BIN,
    BINARY,
    CONFIG,
    CONFIG_DIR,
    DEB_NAME,
    ENV_FILE,
    EXPORTER,
    FILES,
    HOME_DIR,
    NOLOGIN,
    SECRET,
    SOURCE_DATE,
    TEXTFILE_DIR,
    UNIT,
    USER,
    V1,
    V2,
    VERSION_LINE,
    WEB_CONFIG,
    Packages,
    build_package,
)
from integration.roots import (
    ELF_AARCH64,
    ELF_X86_64,
    STUB_NAME,
    STUB_PROVIDES,
    DebRoot,
    ElRoot,
    accounts,
    arm64_sysroot,
    base_env,
    build_stub_rpm,
    chroot_cmd,
    chroot_env,
    createrepo,
    debian_root_tarball,
    describe,
    elf_machine,
    environment_file,
    exec_start_argv,
    free_port,
    groups,
    http_get,
    inside,
    login_defs,
    run,
    run_arm64,
    running,
    systemd_verify,
    unit_section,
    unpacked_root,
)


# --- the roots ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def debian_tarball() -> Path:
    assert os.geteuid() == 0, (
        "the install tests need root: mmdebstrap --mode=root, chroot, and the roots' own " "dpkg and useradd"
    )
    return debian_root_tarball()


@pytest.fixture(scope="session")
def el_repo(tmp_path_factory, packages) -> Path:
    """A file:// YUM repository: both versions of the x86_64 RPM and the userland stub."""
    repo = tmp_path_factory.mktemp("el9-repo")
    stub = build_stub_rpm(tmp_path_factory.mktemp("stub"))
    for path in (stub, packages.get("rpm", "amd64", V1).path, packages.get("rpm", "amd64", V2).path):
        shutil.copy(path, repo)
    return createrepo(repo)


@pytest.fixture
def el_root(tmp_path, debian_tarball, el_repo):
    with unpacked_root(debian_tarball, tmp_path) as root:
        yield ElRoot.create(root, tmp_path / "el-work", el_repo)


@pytest.fixture
def deb_root(tmp_path, debian_tarball):
    with unpacked_root(debian_tarball, tmp_path) as root:
        yield DebRoot(root)


@pytest.fixture(scope="session")
def arm64_libc(tmp_path_factory) -> Path:
    return arm64_sysroot(tmp_path_factory.mktemp("arm64") / "sysroot")


# --- one family's client, behind one interface ------------------------------------------------------

# Warnings rpm prints by design when it keeps an edited %config(noreplace) file.
RPM_CONFIG_NOTICE = re.compile(r"^warning: (\S+) (created as \S+\.rpmnew|saved as \S+\.rpmsave)$")


def assert_clean(result, *, allowed: re.Pattern[str] | None = None) -> None:
    """No scriptlet failure, error or unexpected warning in a client's output."""
    for line in (result.stdout + result.stderr).splitlines():
        text = line.strip()
        if allowed is not None and allowed.match(text):
            continue
        lowered = text.lower()
        assert not any(
            word in lowered for word in ("warning", "error", "scriptlet failed", "not found", "fatal")
        ), f"unexpected line {text!r} in the output of\n{describe(result)}"


class Family:
    kind: str
    package: str

    @property
    def env_file(self) -> str:
        return ENV_FILE[self.kind]

    @property
    def nologin(self) -> str:
        return NOLOGIN[self.kind]


class Dnf(Family):
    """dnf and rpm on the EL-like root."""

    kind, package = "rpm", EXPORTER

    def __init__(self, root: ElRoot, packages: Packages):
        self.el, self.root, self.packages = root, root.path, packages

    def install(self, version: str):
        result = self.el.dnf("install", f"{EXPORTER}-{version}")
        assert_clean(result)
        return result

    def upgrade(self, version: str):
        result = self.el.dnf("upgrade", f"{EXPORTER}-{version}")
        assert_clean(result, allowed=RPM_CONFIG_NOTICE)
        return result

    def reinstall(self):
        result = self.el.dnf("reinstall", EXPORTER)
        assert_clean(result)
        return result

    def version(self) -> str | None:
        result = self.el.rpm("-q", "--qf", "%{VERSION}-%{RELEASE}.%{ARCH}", EXPORTER, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def expected_version(self, version: str) -> str:
        return f"{version}-1.el9.x86_64"

    def config_files(self) -> set[str]:
        return set(self.el.rpm("-qc", EXPORTER).stdout.split())


class Dpkg(Family):
    """The Debian root's own dpkg, chrooted, run as unattended automation runs it."""

    kind, package = "deb", DEB_NAME

    def __init__(self, root: DebRoot, packages: Packages):
        self.deb, self.root, self.packages = root, root.path, packages

    def install(self, version: str):
        result = self.deb.install(self.packages.get("deb", "amd64", version).path)
        assert_clean(result)
        return result

    def upgrade(self, version: str):
        result = self.deb.install(self.packages.get("deb", "amd64", version).path)
        # dpkg reports each kept conffile; nothing else may go wrong.
        assert_clean(result)
        return result

    def reinstall(self):
        version = self.version().split("-")[0]
        return self.install(version)

    def version(self) -> str | None:
        status = self.deb.status(DEB_NAME)
        if not status or not status.startswith("ii "):
            return None
        return status.split()[1]

    def expected_version(self, version: str) -> str:
        return f"{version}-1+deb12"

    def config_files(self) -> set[str]:
        return set(self.deb.conffiles(DEB_NAME))


@pytest.fixture(params=["rpm", "deb"])
def family(request, tmp_path, debian_tarball, packages):
    """A fresh root with its family's client: dnf on the EL-like root, dpkg on Debian."""
    el_repo = request.getfixturevalue("el_repo") if request.param == "rpm" else None
    with unpacked_root(debian_tarball, tmp_path) as root:
        if el_repo is not None:
            yield Dnf(ElRoot.create(root, tmp_path / "el-work", el_repo), packages)
        else:
            yield Dpkg(DebRoot(root), packages)


# --- shared checks ------------------------------------------------------------------------------------


def check_account(root: Path, nologin: str, uid: int | None = None):
    """The service user and its group: one of each, a system account, no login shell."""
    found = accounts(root, USER)
    assert len(found) == 1, f"/etc/passwd has {len(found)} entries for {USER}: {found}"
    (account,) = found
    assert groups(root, USER) == [
        account.gid
    ], f"/etc/group: {USER} should be the primary group {account.gid}, has {groups(root, USER)}"
    if uid is None:
        sys_min = login_defs(root, "SYS_UID_MIN", 100)
        sys_max = login_defs(root, "SYS_UID_MAX", login_defs(root, "UID_MIN", 1000) - 1)
        assert sys_min <= account.uid <= sys_max, f"{account}: not a system uid ({sys_min}-{sys_max})"
    else:
        assert account.uid == uid, f"{account}: expected the existing uid {uid}"
    assert account.home == HOME_DIR, account
    assert account.shell == nologin, account
    assert inside(root, account.shell).exists(), f"{account.shell} does not exist in the root"
    return account


def check_ownership(root: Path, account) -> None:
    """What belongs to the service (its directories and the secret in them: rpm's %attr, or
    the DEB's tmpfiles.d); everything else root-owned."""
    expected = {
        HOME_DIR: (account.uid, account.gid, 0o750, True),
        TEXTFILE_DIR: (account.uid, account.gid, 0o755, True),
        SECRET: (account.uid, account.gid, 0o600, False),
        CONFIG_DIR: (0, 0, 0o755, True),
        CONFIG: (0, 0, 0o644, False),
        WEB_CONFIG: (0, 0, 0o644, False),
        BIN: (0, 0, 0o755, False),
        UNIT: (0, 0, 0o644, False),
    }
    for path, (uid, gid, mode, is_dir) in expected.items():
        st = os.lstat(inside(root, path))
        got = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode))
        assert got == (uid, gid, mode, is_dir), (
            f"{path}: owner {st.st_uid}:{st.st_gid} mode {oct(got[2])} dir={got[3]}, "
            f"expected {uid}:{gid} {oct(mode)} dir={is_dir}"
        )


def check_unit(root: Path, env_file: str, version: str) -> list[str]:
    """The unit's settings; returns ExecStart's argv (with the environment file's $ARGS)."""
    text = inside(root, UNIT).read_text()
    service = unit_section(text, "Service")
    assert service.get("User") == [USER] and service.get("Group") == [USER], service
    assert service.get("EnvironmentFile") == [f"-{env_file}"], service
    assert service.get("Restart") == ["on-failure"], service
    assert unit_section(text, "Install").get("WantedBy") == ["multi-user.target"], text
    (exec_start,) = service["ExecStart"]
    env = environment_file(inside(root, env_file))
    argv = exec_start_argv(exec_start, env)
    if env.get("ARGS", "") == "":
        assert argv == [BIN, *ARGUMENTS[version]], f"ExecStart={exec_start}"
    return argv


def check_binary_runs(root: Path, env_file: str, version: str) -> None:
    """ExecStart from the installed unit, plus --version, chrooted into the root."""
    assert elf_machine(inside(root, BIN)) == ELF_X86_64
    argv = check_unit(root, env_file, version)
    result = run([chroot_cmd(), root, *argv, "--version"], env=chroot_env())
    output = result.stdout + result.stderr
    assert VERSION_LINE.search(output), describe(result)
    assert re.search(r"platform:\s+linux/amd64", output), describe(result)


def check_service(root: Path, env_file: str, workdir: Path, tag: str) -> None:
    """Runs the service as systemd would (User=, EnvironmentFile=, ExecStart=) and scrapes it;
    the service user writes a textfile metric in its own directory and reads its secret."""
    service = unit_section(inside(root, UNIT).read_text(), "Service")
    (account,) = accounts(root, service["User"][0])
    (gid,) = groups(root, service["Group"][0])
    userspec = f"--userspec={account.uid}:{gid}"

    # As an operator would: the listen address goes into ARGS in the environment file.
    port = free_port()
    env_path = inside(root, env_file)
    env = environment_file(env_path)
    args = f'{env.get("ARGS", "")} --web.listen-address=127.0.0.1:{port}'.strip()
    text = env_path.read_text()
    assert re.search(r"^ARGS=.*$", text, re.M), f"{env_file} has no ARGS= line:\n{text}"
    env_path.write_text(re.sub(r"^ARGS=.*$", lambda _: f'ARGS="{args}"', text, count=1, flags=re.M))
    env = environment_file(env_path)
    argv = exec_start_argv(service["ExecStart"][0], env)

    as_user = [chroot_cmd(), userspec, root]
    run(
        [*as_user, "/bin/sh", "-c", f"echo 'demo_install_test{{family=\"{tag}\"}} 1' > {TEXTFILE_DIR}/install.prom"],
        env=chroot_env(),
        what="the service user writes into its textfile directory",
    )
    secret = run([*as_user, "cat", SECRET], env=chroot_env(), what="the service user reads its secret")
    assert "[client]" in secret.stdout
    denied = run([chroot_cmd(), "--userspec=65534:65534", root, "cat", SECRET], env=chroot_env(), check=False)
    assert denied.returncode != 0, f"another user can read {SECRET}:\n{describe(denied)}"

    log = workdir / f"service-{tag}.log"
    process_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", **env}
    with running([*as_user, *argv], process_env, log) as proc:
        metrics = http_get(f"http://127.0.0.1:{port}/metrics", proc, log)
    build_info = [line for line in metrics.splitlines() if line.startswith("node_exporter_build_info{")]
    assert len(build_info) == 1 and 'goarch="amd64"' in build_info[0], metrics[:2000]
    assert (
        f'demo_install_test{{family="{tag}"}} 1' in metrics
    ), f"the textfile collector did not read {TEXTFILE_DIR} (ExecStart's arguments):\n" + "\n".join(
        line for line in metrics.splitlines() if "textfile" in line
    )


def check_systemd_accepts_unit(root: Path, workdir: Path) -> None:
    result = systemd_verify(root, UNIT, workdir)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), describe(result)


def no_systemd(root: Path) -> None:
    """systemd is not running (the Debian root has it installed, the EL root not at all)."""
    assert not inside(root, "/run/systemd/system").exists()


# --- 1. dnf installs the el9 x86_64 RPM --------------------------------------------------------------


def test_dnf_installs_el9_rpm(el_root: ElRoot, tmp_path: Path) -> None:
    root = el_root.path
    no_systemd(root)
    assert not inside(root, "/usr/bin/systemd-sysusers").exists()  # %pre takes the useradd path
    result = el_root.dnf("install", EXPORTER)  # the newest version, as operators run it
    assert_clean(result)
    assert el_root.installed(EXPORTER) == f"{EXPORTER}-{V2}-1.el9.x86_64"
    assert el_root.installed(STUB_NAME), "the stub should satisfy shadow-utils"

    account = check_account(root, NOLOGIN["rpm"])
    check_ownership(root, account)
    env_file = ENV_FILE["rpm"]
    assert "ARGS=" in inside(root, env_file).read_text()

    # Config files are %config(noreplace): rpm's "c" and "n" file flags.
    flags = {}
    for line in el_root.rpm("-q", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", EXPORTER).stdout.splitlines():
        fflags, _, path = line.partition(" ")
        flags[path] = fflags
    config = set(el_root.rpm("-qc", EXPORTER).stdout.split())
    assert config == {env_file, CONFIG, WEB_CONFIG, SECRET}, config
    for path in config:
        assert set("cn") <= set(flags[path]), f"{path}: file flags {flags[path]!r}, expected %config(noreplace)"
    assert "c" not in flags[UNIT] and "c" not in flags[BIN]
    assert f"/usr/share/licenses/{EXPORTER}/LICENSE" in el_root.rpm("-qL", EXPORTER).stdout

    # rpm -V: the payload is intact, owners included: rpm applied them itself (%attr), no
    # scriptlet changed any.
    verify = el_root.rpm("-V", EXPORTER, check=False)
    assert verify.returncode == 0 and verify.stdout == "", describe(verify)

    check_binary_runs(root, env_file, V2)
    check_systemd_accepts_unit(root, tmp_path)
    check_service(root, env_file, tmp_path, "rpm")


# --- 2. dpkg installs the debian-12 amd64 DEB ---------------------------------------------------------


def test_dpkg_installs_debian12_deb(deb_root: DebRoot, packages: Packages, tmp_path: Path) -> None:
    root = deb_root.path
    no_systemd(root)
    deb = packages.get("deb", "amd64", V2).path
    assert_clean(deb_root.install(deb))
    assert deb_root.status(DEB_NAME) == f"ii {V2}-1+deb12"

    account = check_account(root, NOLOGIN["deb"])
    check_ownership(root, account)
    env_file = ENV_FILE["deb"]
    # Conffiles live under /etc (Policy 10.7.2); the secret outside /etc is installed by
    # postinst from its template instead.
    conffiles = deb_root.conffiles(DEB_NAME)
    assert set(conffiles) == {env_file, CONFIG, WEB_CONFIG}, conffiles
    for path, md5 in conffiles.items():
        assert hashlib.md5(inside(root, path).read_bytes()).hexdigest() == md5, path
    assert inside(root, SECRET).read_text() == FILES[V2]["my.cnf"]

    # Enabled on installation, as Debian does (deb-systemd-helper, without a running systemd).
    wants = inside(root, f"/etc/systemd/system/multi-user.target.wants/{EXPORTER}.service")
    assert wants.is_symlink(), f"{wants} missing: the unit was not enabled"
    assert os.path.samefile(inside(root, os.readlink(wants)), inside(root, UNIT))

    verify = deb_root.dpkg("--verify", DEB_NAME)
    assert not verify.stdout.strip(), describe(verify)

    check_binary_runs(root, env_file, V2)
    check_systemd_accepts_unit(root, tmp_path)
    check_service(root, env_file, tmp_path, "deb")


# --- 3. upgrades keep edited config files; removal -------------------------------------------------------

EDIT = "# edited by the operator\nlevel: debug\n"
EDITED_ARGS = 'ARGS="--log.level=debug"'


def test_upgrade_keeps_edited_config_then_remove(family: Family, tmp_path: Path) -> None:
    root = family.root
    family.install(V1)
    assert family.version() == family.expected_version(V1)
    account = check_account(root, family.nologin)
    assert family.config_files() >= {family.env_file, CONFIG, WEB_CONFIG}

    # The operator edits the config file, the environment file and the secret.
    config, env_path, secret = (inside(root, p) for p in (CONFIG, family.env_file, SECRET))
    config.write_text(config.read_text() + EDIT)
    env_path.write_text(re.sub(r"^ARGS=.*$", EDITED_ARGS, env_path.read_text(), count=1, flags=re.M))
    secret.write_text("[client]\nuser=exporter\npassword=s3cret\n")
    edited = {p: inside(root, p).read_text() for p in (CONFIG, family.env_file, SECRET)}

    result = family.upgrade(V2)
    assert family.version() == family.expected_version(V2), describe(result)

    for path, text in edited.items():
        assert inside(root, path).read_text() == text, f"{path}: the upgrade overwrote the operator's edit"
    assert inside(root, WEB_CONFIG).read_text() == FILES[V2]["web.yml"], "an unedited config file is upgraded"
    # The new version's files land beside the edited ones, under each family's name.
    side = ".rpmnew" if family.kind == "rpm" else ".dpkg-dist"
    assert inside(root, CONFIG + side).read_text() == FILES[V2]["demo.yml"]
    assert "--web.telemetry-path" in inside(root, family.env_file + side).read_text()
    for path in (WEB_CONFIG, SECRET):
        assert not inside(root, path + side).exists(), f"{path}{side}: the file was not edited"
    if family.kind == "rpm":
        for path in (CONFIG, family.env_file):
            assert f"warning: {path} created as {path}.rpmnew" in result.stdout + result.stderr
    else:
        for path in (CONFIG, family.env_file):
            assert f"Configuration file '{path}'" in result.stderr, describe(result)
        assert result.stderr.count("Keeping old config file as default") == 2, describe(result)
    assert environment_file(env_path)["ARGS"] == "--log.level=debug"

    # The upgraded service still runs, with the new arguments and the operator's ARGS.
    argv = check_unit(root, family.env_file, V2)
    assert argv == [BIN, *ARGUMENTS[V2], "--log.level=debug"], argv
    check_binary_runs(root, family.env_file, V2)
    check_ownership(root, check_account(root, family.nologin, uid=account.uid))

    # Removal: no binary, no unit; the user and group stay (files may still belong to them).
    no_systemd(root)
    if family.kind == "rpm":
        result = family.el.dnf("remove", EXPORTER)
        assert_clean(result, allowed=RPM_CONFIG_NOTICE)
        assert family.version() is None
        # rpm keeps edited config files as .rpmsave and removes unedited ones.
        assert inside(root, CONFIG + ".rpmsave").read_text() == edited[CONFIG]
        assert not inside(root, WEB_CONFIG).exists()
    else:
        result = family.deb.dpkg("--remove", DEB_NAME)
        assert_clean(result)
        assert family.deb.status(DEB_NAME) == f"rc {V2}-1+deb12"
        # Removal keeps conffiles and masks the unit, as dh_installsystemd does.
        for path, text in edited.items():
            assert inside(root, path).read_text() == text, f"{path}: removed before purge"
        mask = inside(root, f"/etc/systemd/system/{EXPORTER}.service")
        assert mask.is_symlink() and os.readlink(mask) == "/dev/null", "the unit is not masked"
        assert not inside(root, BIN).exists() and not inside(root, UNIT).exists()

        result = family.deb.dpkg("--purge", DEB_NAME)
        assert_clean(result)
        assert family.deb.status(DEB_NAME) is None
        for path in (CONFIG, WEB_CONFIG, family.env_file, SECRET, CONFIG + ".dpkg-dist"):
            assert not inside(root, path).exists(), f"{path} survived the purge"
        leftovers = [str(p) for p in inside(root, "/etc/systemd").rglob(f"*{EXPORTER}*")]
        leftovers += [str(p) for p in inside(root, "/var/lib/systemd").rglob(f"*{EXPORTER}*")]
        assert not leftovers, f"systemd state left after purge: {leftovers}"
    assert not inside(root, BIN).exists(), "the binary survived the removal"
    assert not inside(root, UNIT).exists(), "the unit survived the removal"
    check_account(root, family.nologin, uid=account.uid)


# --- 4. arm64: the right binary, running under qemu ---------------------------------------------------


def test_arm64_packages_run_under_qemu(el_root: ElRoot, packages: Packages, arm64_libc: Path, tmp_path: Path) -> None:
    rpm = packages.get("rpm", "arm64", V2)
    deb = packages.get("deb", "arm64", V2)
    assert rpm.path.name == f"{EXPORTER}-{V2}-1.el9.aarch64.rpm"
    assert deb.path.name == f"{DEB_NAME}_{V2}-1+deb12_arm64.deb"
    assert rpm.artifact["arch"] == deb.artifact["arch"] == "arm64"
    assert run(["dpkg-deb", "-f", deb.path, "Architecture"], env=base_env()).stdout.strip() == "arm64"

    # The RPM, installed by rpm itself (its scriptlets run in the root, for an aarch64 package).
    el_root.rpm("-i", "--ignorearch", "--nodeps", rpm.path)
    assert el_root.installed(EXPORTER) == f"{EXPORTER}-{V2}-1.el9.aarch64"
    check_account(el_root.path, NOLOGIN["rpm"])
    # The DEB, unpacked as it would land.
    unpacked = tmp_path / "deb-arm64"
    run(["dpkg-deb", "-x", deb.path, unpacked], env=base_env())

    for where in (el_root.path, unpacked):
        binary = inside(where, BIN)
        assert elf_machine(binary) == ELF_AARCH64, f"{binary}: e_machine {elf_machine(binary)}, not aarch64"
        assert stat.S_IMODE(binary.stat().st_mode) == 0o755
        result = run_arm64(binary, arm64_libc, "--version")
        output = result.stdout + result.stderr
        assert VERSION_LINE.search(output), describe(result)
        assert re.search(r"platform:\s+linux/arm64", output), describe(result)


# --- 5. reinstalling is idempotent; an existing service user is reused ---------------------------------


def test_reinstall_is_idempotent(family: Family) -> None:
    root = family.root
    family.install(V2)
    account = check_account(root, family.nologin)
    passwd, group = (inside(root, p).read_text() for p in ("/etc/passwd", "/etc/group"))

    family.reinstall()  # dnf reinstall / dpkg -i of the same .deb
    assert family.version() == family.expected_version(V2)
    assert inside(root, "/etc/passwd").read_text() == passwd, "reinstalling changed /etc/passwd"
    assert inside(root, "/etc/group").read_text() == group, "reinstalling changed /etc/group"
    check_ownership(root, check_account(root, family.nologin, uid=account.uid))
    check_binary_runs(root, family.env_file, V2)


def test_existing_service_user_is_reused(family: Family) -> None:
    """Several exporters may share a user: one created beforehand is used as it is."""
    root = family.root
    run([chroot_cmd(), root, "groupadd", "-r", "-g", "4242", USER], env=chroot_env())
    run(
        [
            chroot_cmd(),
            root,
            "useradd",
            "-r",
            "-u",
            "4242",
            "-g",
            USER,
            "-d",
            HOME_DIR,
            "-s",
            family.nologin,
            "-c",
            "created beforehand",
            USER,
        ],
        env=chroot_env(),
    )
    family.install(V2)
    account = check_account(root, family.nologin, uid=4242)
    assert account.gecos == "created beforehand"
    check_ownership(root, account)


# --- 6. regressions of packaging bugs these tests found ----------------------------------------------


def test_rpm_scriptlets_run_after_the_shell_is_installed(tmp_path, debian_tarball, packages) -> None:
    """A system being installed (kickstart, `dnf --installroot`, an image build) gets /bin/sh
    from a package of the same transaction, as EL's bash. rpm orders packages by their
    dependencies only, and nfpm declares none for scriptlets (rpmbuild adds
    Requires(pre,post,...): /bin/sh): without one, rpm ran our %pre before the shell existed
    ("failed to exec scriptlet interpreter /bin/sh")."""
    with unpacked_root(debian_tarball, tmp_path) as root:
        inside(root, "/usr/bin/sh").unlink()  # /bin is /usr/bin in this userland
        assert not inside(root, "/bin/sh").exists()
        stubs = tmp_path / "stubs"
        base = build_stub_rpm(stubs, "el-base-stub", [p for p in STUB_PROVIDES if not p.endswith("/sh")])
        # Named to sort last: unordered, rpm installs it after our package.
        shell = build_stub_rpm(stubs, "zz-el-shell", ["/bin/sh"], symlinks={"/usr/bin/sh": "dash"})
        repo = tmp_path / "repo"
        repo.mkdir()
        for path in (base, shell, packages.get("rpm", "amd64", V2).path):
            shutil.copy(path, repo)
        el = ElRoot.create(root, tmp_path / "el-work", createrepo(repo))

        result = el.dnf("install", EXPORTER, "zz-el-shell", check=False)
        requires = run(["rpm", "-qp", "--requires", packages.get("rpm", "amd64", V2).path], env=base_env()).stdout
        assert (
            "failed to exec scriptlet interpreter" not in result.stdout + result.stderr
        ), f"%pre ran before /bin/sh was installed; the RPM requires:\n{requires}\n{describe(result)}"
        assert result.returncode == 0, describe(result)
        check_account(root, NOLOGIN["rpm"])


def test_unit_of_an_exporter_without_homepage(tmp_path, binaries, nfpm) -> None:
    """`homepage` is optional and a local upstream has no GitHub URL to fall back on: the unit
    must then leave Documentation= out (it once said Documentation=None, which systemd
    rejects: "Invalid URL, ignoring: None")."""
    exporter = tmp_path / "local_exporter"
    (exporter / "archives").mkdir(parents=True)
    archive = exporter / "archives" / "local_exporter-1.0.0.linux-amd64.tar.gz"
    archive.write_bytes(repack.pack_archive(archive.name, {BINARY: b"\x7fELF"}, mtime=0))
    (exporter / "manifest.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "local_exporter",
                "description": "An exporter whose release archive is kept in the repository",
                "category": "System",
                "version": "1.0.0",
                "license": "Apache-2.0",
                "upstream": {"local": {"amd64": f"archives/{archive.name}"}},
                "build": {"binary_name": BINARY, "archs": ["amd64"]},
                "artifacts": {
                    "rpm": {"enabled": False},
                    "deb": {"targets": ["debian-12"]},
                    "docker": {"enabled": False},
                },
            },
            sort_keys=False,
        )
    )
    data = archive.read_bytes()
    lock = fetch.Lock(
        "local_exporter",
        "1.0.0",
        SOURCE_DATE[V1],
        {
            "amd64": fetch.LockedArchive(f"archives/{archive.name}", hashlib.sha256(data).hexdigest(), len(data)),
        },
    )
    fetch.write_lock(exporter / "upstream.lock.json", lock)
    built = build_package(exporter, "deb", "amd64", binaries["amd64"], nfpm, tmp_path / "out")
    unpacked = tmp_path / "unpacked"
    run(["dpkg-deb", "-x", built.path, unpacked], env=base_env())
    unit = "/usr/lib/systemd/system/local_exporter.service"
    text = inside(unpacked, unit).read_text()

    assert "Documentation=" not in text, text
    result = systemd_verify(unpacked, unit, tmp_path)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), f"{text}\n{describe(result)}"
