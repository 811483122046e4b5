#!/usr/bin/env python3
"""The image's SBOM, CycloneDX 1.5 JSON on stdout, read from what went into the assembled tree.

    sbom.py vault|openbao ROOTFS CA_SOURCE

- hardinit: the version, commit, target and date it reports (`hardinit --version`, read from the
  binary's bytes so that a cross build's needs no emulator), the SHA-256 of
  the file, and the crates it links as `cargo auditable` embedded them (its .dep-v0 section), each
  with the SHA-256 of its .crate that Cargo.lock records and the licence that .crate declares.
- the server: the version it reports (`bao version`, `vault version`; for a binary of another
  platform, the version its release build stamped into it), the SHA-256 of the file, and the Go
  modules of its embedded build information (the .go.buildinfo section, what
  `go version -m` prints).
- the CA bundle: where it was copied from (CA_SOURCE; the Debian package when dpkg knows it) and
  its SHA-256.

Reproducible: the only time in it is SOURCE_DATE_EPOCH (left out when unset), and the serial
number is derived from the content. scripts/assemble-rootfs.sh runs it; exit 1 with one line when
something is not what it should be (a binary without its embedded data, a crate Cargo.lock does not
know).
"""
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
import tomllib
import urllib.parse
import uuid
import zlib
from datetime import datetime, timezone

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where each flavour's server binary sits in the image.
SERVER_PATHS = {"vault": "bin/vault", "openbao": "usr/bin/bao"}
# What `version` prints: "Vault v1.21.1 (...)", "OpenBao v2.7.2 (...)".
SERVER_VERSION = re.compile(r"(Vault|OpenBao) v(\S+)")
# What `hardinit --version` prints after "hardinit ", as build.rs puts it in the binary: read from
# the bytes, so that a binary of another platform (a cross build) needs no emulator.
HARDINIT_VERSION = re.compile(rb"(\d+\.\d+\.\d+[\w.+-]*) \(commit ([0-9a-f]{40}(?:-dirty)?|unknown), "
                              rb"target ([\w.-]+), built ([\dTZ:-]+|unknown)\)")
GO_BUILDINFO_MAGIC = b"\xff Go buildinf:"


class Refused(Exception):
    pass


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(argv):
    """What a binary of the tree prints, started with nothing of this environment."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "HOME": "/", "LC_ALL": "C"})
    except OSError as e:
        raise Refused(f"cannot run {argv[0]}: {e.strerror}")
    if out.returncode != 0:
        raise Refused(f"{' '.join(argv)} exited with {out.returncode}: {out.stderr.strip()[:200]}")
    return out.stdout


def elf_sections(data, path):
    """{name: bytes} of an ELF file's sections (32 or 64 bits, either byte order)."""
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise Refused(f"{path} is not an ELF file")
    order = "<" if data[5] == 1 else ">"
    if data[4] == 2:
        (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x3A)
        header = order + "IIQQQQ"
    else:
        (shoff,) = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x2E)
        header = order + "IIIIII"
    headers = []
    for i in range(shnum):
        name, kind, _flags, _addr, offset, size = struct.unpack_from(header, data, shoff + i * shentsize)
        headers.append((name, kind, offset, size))
    _, _, names_at, names_size = headers[shstrndx]
    names = data[names_at:names_at + names_size]
    sections = {}
    for name, kind, offset, size in headers:
        label = names[name:names.index(b"\0", name)].decode()
        # SHT_NOBITS (.bss) occupies no bytes of the file.
        sections[label] = b"" if kind == 8 else data[offset:offset + size]
    return sections


def cargo_auditable_packages(sections, path):
    """The packages of the .dep-v0 section, as cargo-auditable's format 1 lists them."""
    if ".dep-v0" not in sections:
        raise Refused(f"{path} has no .dep-v0 section: build it with scripts/build-static.sh (cargo auditable)")
    audit = json.loads(zlib.decompress(sections[".dep-v0"]))
    return audit["packages"]


def go_buildinfo(sections, path):
    """(Go version, modinfo text) from .go.buildinfo: Go 1.18 and later keep both inline, each
    prefixed by its length as a varint (the layout of debug/buildinfo)."""
    info = sections.get(".go.buildinfo", b"")
    if not info.startswith(GO_BUILDINFO_MAGIC):
        raise Refused(f"{path} has no Go build information (.go.buildinfo)")
    if not info[15] & 0x2:
        raise Refused(f"{path}: Go build information of a toolchain before Go 1.18, not read")
    position = 32
    strings = []
    for _ in range(2):
        length, shift = 0, 0
        while True:
            byte = info[position]
            position += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        strings.append(info[position:position + length])
        position += length
    version, modinfo = strings
    # The module information sits between two 16-byte sentinels (runtime/debug).
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    return version.decode(), modinfo.decode()


def go_modules(modinfo):
    """(main module, [(path, version, sum)], {build setting: value}) of `go version -m` text."""
    main, deps, settings = None, [], {}
    for line in modinfo.splitlines():
        fields = line.split("\t")
        if fields[0] == "mod" and len(fields) >= 3:
            main = (fields[1], fields[2])
        elif fields[0] == "dep" and len(fields) >= 3:
            deps.append((fields[1], fields[2], fields[3] if len(fields) > 3 else ""))
        elif fields[0] == "=>" and len(fields) >= 3 and deps:
            # A replacement: what was built is the replacing module.
            deps[-1] = (fields[1], fields[2], fields[3] if len(fields) > 3 else "")
        elif fields[0] == "build" and len(fields) >= 2 and "=" in fields[1]:
            key, _, value = fields[1].partition("=")
            settings[key] = value
    return main, deps, settings


def purl_golang(path, version):
    return "pkg:golang/" + "/".join(urllib.parse.quote(p, safe="") for p in path.split("/")) + "@" + urllib.parse.quote(version, safe="")


def crate_licence(name, version, checksum):
    """The licence the crate declares, read from its .crate in CARGO_HOME's registry cache, whose
    SHA-256 must be Cargo.lock's (`cargo metadata --offline` would need the dev-dependencies too,
    which a release build does not download)."""
    cache = os.path.join(os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo"), "registry", "cache")
    for index in sorted(os.listdir(cache)) if os.path.isdir(cache) else []:
        archive = os.path.join(cache, index, f"{name}-{version}.crate")
        if os.path.exists(archive) and sha256(archive) == checksum:
            with tarfile.open(archive, "r:gz") as crate:
                manifest = tomllib.load(crate.extractfile(f"{name}-{version}/Cargo.toml"))["package"]
            if "license" in manifest:
                # The old slash form (MIT/Apache-2.0) means OR, as cargo reads it.
                return {"expression": manifest["license"].replace("/", " OR ")}
            if "license-file" in manifest:
                return {"license": {"name": f"the crate's {manifest['license-file']}"}}
            return None
    raise Refused(f"no {name}-{version}.crate with Cargo.lock's checksum under {cache}")


def hardinit_component(path):
    data = open(path, "rb").read()
    found = {m.groups() for m in HARDINIT_VERSION.finditer(data)}
    if len(found) != 1:
        raise Refused(f"{path} does not hold one version string (version, commit, target, date): {len(found)} found")
    version, commit, target, built = (part.decode() for part in found.pop())
    packages = cargo_auditable_packages(elf_sections(data, path), path)
    with open(os.path.join(REPO, "Cargo.lock"), "rb") as f:
        checksums = {(p["name"], p["version"]): p.get("checksum") for p in tomllib.load(f)["package"]}
    refs, crates = [], []
    for package in packages:
        key = (package["name"], package["version"])
        if package.get("root"):
            refs.append("hardinit")
            continue
        if key not in checksums:
            raise Refused(f"{path} links {key[0]} {key[1]}, which Cargo.lock does not list: not built from this tree")
        purl = f"pkg:cargo/{key[0]}@{key[1]}"
        refs.append(purl)
        if package.get("kind", "runtime") != "runtime":
            continue
        crate = {"type": "library", "bom-ref": purl, "name": key[0], "version": key[1], "purl": purl}
        if checksums[key]:
            crate["hashes"] = [{"alg": "SHA-256", "content": checksums[key]}]
            licence = crate_licence(key[0], key[1], checksums[key])
            if licence:
                crate["licenses"] = [licence]
        crates.append(crate)
    with open(os.path.join(REPO, "Cargo.toml"), "rb") as f:
        own_licence = tomllib.load(f)["package"]["license"]
    component = {
        "type": "application",
        "bom-ref": "hardinit",
        "name": "hardinit",
        "version": version,
        "hashes": [{"alg": "SHA-256", "content": sha256(path)}],
        "licenses": [{"expression": own_licence}],
        "properties": [
            {"name": "hardinit:commit", "value": commit},
            {"name": "hardinit:target", "value": target},
            {"name": "hardinit:built", "value": built},
            {"name": "hardinit:path", "value": "/usr/local/bin/hardinit"},
        ],
        "components": sorted(crates, key=lambda c: (c["name"], c["version"])),
    }
    dependencies = [
        {"ref": refs[i], "dependsOn": sorted({refs[d] for d in p.get("dependencies", [])
                                              if packages[d].get("kind", "runtime") == "runtime"})}
        for i, p in enumerate(packages) if p.get("kind", "runtime") == "runtime"
    ]
    return component, dependencies


def server_licence(name, version):
    """The licence of the server's own source at that version: Vault moved from MPL-2.0 to
    BUSL-1.1 in 1.15; OpenBao is the MPL-2.0 fork of Vault 1.14."""
    if name == "openbao":
        return "MPL-2.0"
    major_minor = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    return "BUSL-1.1" if major_minor >= (1, 15) else "MPL-2.0"


def reported_version(path, main, settings):
    """(name, version, how it was read): what `SERVER version` prints, or, for a binary of
    another platform (exec format error), what its release build stamped into it (-ldflags
    -X .../version.fullVersion=, which is what `version` prints, and the main module)."""
    try:
        reported = run([path, "version"])
    except Refused:
        if platform_of(path) == platform_of(sys.executable):
            raise
        ldflags = re.search(r"/version\.fullVersion=([^\s\"']+)", " ".join(settings.values()))
        name = {"github.com/openbao/openbao": "openbao", "github.com/hashicorp/vault": "vault"}.get(
            re.sub(r"/v\d+$", "", main[0]) if main else "")
        if not (ldflags and name):
            raise Refused(f"{path} is for another platform and its build information names no version")
        return name, ldflags.group(1), "build information (-ldflags)"
    match = SERVER_VERSION.match(reported)
    if not match:
        raise Refused(f"{path} version printed {reported.strip()[:100]!r}, not a Vault or OpenBao version")
    return match.group(1).lower(), match.group(2), "version command"


def platform_of(path):
    """(class, byte order, machine) of an ELF file's header."""
    with open(path, "rb") as f:
        header = f.read(20)
    return header[4], header[5], struct.unpack_from("<H" if header[5] == 1 else ">H", header, 18)[0]


def server_component(path, image_path):
    """The server as it reports itself (the tests run OpenBao in the vault flavour's place)."""
    go_version, modinfo = go_buildinfo(elf_sections(open(path, "rb").read(), path), path)
    main, deps, settings = go_modules(modinfo)
    name, version, read_from = reported_version(path, main, settings)
    expected = os.environ.get("HARDINIT_EXPECT_SERVER_VERSION")
    if expected and expected != version:
        raise Refused(f"the server binary is {name} {version}, not {expected}: change the image and its version together")
    modules = [{
        "type": "library", "bom-ref": purl_golang("stdlib", go_version.removeprefix("go")),
        "name": "stdlib", "version": go_version, "purl": purl_golang("stdlib", go_version.removeprefix("go")),
    }]
    for module, module_version, checksum in deps:
        purl = purl_golang(module, module_version)
        entry = {"type": "library", "bom-ref": purl, "name": module, "version": module_version, "purl": purl}
        if checksum:
            entry["properties"] = [{"name": "golang:sum", "value": checksum}]
        modules.append(entry)
    properties = [{"name": "hardinit:path", "value": "/" + image_path},
                  {"name": "hardinit:version-from", "value": read_from},
                  {"name": "golang:version", "value": go_version}]
    if main:
        properties.append({"name": "golang:main-module", "value": f"{main[0]} {main[1]}"})
    properties += [{"name": f"golang:build:{k}", "value": v} for k, v in settings.items()]
    component = {
        "type": "application",
        "bom-ref": "server",
        "name": name,
        "version": version,
        "hashes": [{"alg": "SHA-256", "content": sha256(path)}],
        "licenses": [{"license": {"id": server_licence(name, version)}}],
        "properties": properties,
        "components": modules,
    }
    return component, [{"ref": "server", "dependsOn": sorted({m["bom-ref"] for m in modules})}]


def ca_component(path, source):
    component = {
        "type": "file",
        "bom-ref": "ca-certificates",
        "name": "ca-certificates.crt",
        "hashes": [{"alg": "SHA-256", "content": sha256(path)}],
        "properties": [{"name": "hardinit:path", "value": "/etc/ssl/certs/ca-certificates.crt"},
                       {"name": "hardinit:source", "value": source}],
    }
    # Debian's update-ca-certificates makes this file from the ca-certificates package.
    if source == "/etc/ssl/certs/ca-certificates.crt":
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "ca-certificates"],
                             capture_output=True, text=True) if os.path.exists("/var/lib/dpkg/status") else None
        if out and out.returncode == 0 and out.stdout:
            component["version"] = out.stdout
            component["purl"] = f"pkg:deb/debian/ca-certificates@{urllib.parse.quote(out.stdout, safe='')}?arch=all"
            component["description"] = "Debian's ca-certificates (the Mozilla CA list), as update-ca-certificates writes it"
    return component


def sbom(flavour, rootfs, ca_source):
    hardinit, hardinit_deps = hardinit_component(os.path.join(rootfs, "usr/local/bin/hardinit"))
    server, server_deps = server_component(os.path.join(rootfs, SERVER_PATHS[flavour]), SERVER_PATHS[flavour])
    ca = ca_component(os.path.join(rootfs, "etc/ssl/certs/ca-certificates.crt"), ca_source)
    image = {"type": "container", "bom-ref": "image", "name": f"{flavour}-hardinit", "version": server["version"]}
    metadata = {
        "tools": {"components": [{"type": "application", "name": "hardinit scripts/sbom.py", "version": hardinit["version"]}]},
        "component": image,
    }
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        metadata = {"timestamp": datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **metadata}
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": metadata,
        "components": [hardinit, server, ca],
        "dependencies": [{"ref": "image", "dependsOn": ["ca-certificates", "hardinit", "server"]}]
        + hardinit_deps + server_deps,
    }
    # The same content, the same serial number: the first 128 bits of its SHA-256, as a UUID.
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).digest()
    serial = uuid.UUID(bytes=digest[:16], version=5)
    return {"bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": serial.urn, **document}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in SERVER_PATHS:
        print("usage: sbom.py vault|openbao ROOTFS CA_SOURCE", file=sys.stderr)
        return 64
    try:
        document = sbom(sys.argv[1], sys.argv[2], sys.argv[3])
    except Refused as e:
        print(f"sbom.py: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
