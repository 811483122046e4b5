#!/usr/bin/env python3
"""Static checks of the Dockerfile that hadolint cannot know: the final stages stay shell-less and
hold what scripts/assemble-rootfs.sh makes, nothing else. Exit 1 with one line per problem."""
import fnmatch
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "Dockerfile"
text = open(path).read()
lines = []
for raw in text.replace("\\\n", " ").splitlines():
    raw = raw.strip()
    if raw and not raw.startswith("#"):
        lines.append(raw)

# The global ARGs' defaults (before the first FROM), which the FROM lines expand.
defaults = {}
for line in lines:
    word, _, rest = line.partition(" ")
    if word.upper() == "FROM":
        break
    if word.upper() == "ARG" and "=" in rest:
        name, _, value = rest.partition("=")
        defaults[name.strip()] = value.strip().strip('"')


def expand(image):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults.get(m.group(1) or m.group(2), m.group(0)), image)


stages = {}
current = None
for line in lines:
    word, _, rest = line.partition(" ")
    if word.upper() == "FROM":
        # FROM [--platform=...] IMAGE [AS NAME]
        m = re.match(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
        current = (m.group(2) or m.group(1)).lower()
        stages[current] = {"from": expand(m.group(1)), "lines": []}
    elif current:
        stages[current]["lines"].append((word.upper(), rest))

problems = []
# Every base image pinned by digest: a tag can be moved to other bytes, a digest cannot. The one
# exception, a placeholder marked UNPINNED, is no valid reference: its target's build stops there.
for name, stage in stages.items():
    image = stage["from"]
    if image == "scratch" or image.lower() in stages or re.search(r"@sha256:[0-9a-f]{64}$", image):
        continue
    if re.search(r"@sha256:UNPINNED\b", image):
        print(f"Dockerfile: notice: stage {name} is FROM {image}, not pinned: its target needs the image's --build-arg", file=sys.stderr)
        continue
    problems.append(f"stage {name} is FROM {image}: not pinned by digest (IMAGE:TAG@sha256:...)")
# A parser directive makes BuildKit pull its frontend image from a registry: offline and air-gapped
# builds fail before the first stage, and the builtin frontend reads everything this file needs.
if re.match(r"#\s*syntax\s*=", text, re.I):
    problems.append("a `# syntax=` directive: BuildKit would pull the frontend image, which fails offline")
# The legacy builder (DOCKER_BUILDKIT=0) builds every stage before the target: the openbao target,
# first in the file, must not need hashicorp/vault for it (the vault target, last, needs both).
names = list(stages)
for name in names[: names.index("openbao")] if "openbao" in names else []:
    if stages[name]["from"].startswith("hashicorp/vault"):
        problems.append(f"stage {name} (FROM {stages[name]['from']}) comes before target openbao: the legacy builder would pull hashicorp/vault for it")
# -dev-no-store-token: the dev server's token helper would write ~/.vault-token, which fails on a
# read-only root filesystem.
dev_cmd = '["server", "-dev", "-dev-no-store-token"]'
for flavour, cmd in (("vault", dev_cmd), ("openbao", dev_cmd)):
    stage = stages.get(flavour)
    if not stage:
        problems.append(f"no final stage {flavour}")
        continue
    if stage["from"] != "scratch":
        problems.append(f"stage {flavour} is FROM {stage['from']}, not scratch")
    words = [w for w, _ in stage["lines"]]
    for forbidden in ("RUN", "ADD", "SHELL", "USER"):
        if forbidden in words:
            problems.append(f"stage {flavour} has {forbidden}: the final image must stay shell-less and start as root for hardinit to drop")
    copies = [r for w, r in stage["lines"] if w == "COPY"]
    if copies != [f"--from=assemble-{flavour} /rootfs/ /"]:
        problems.append(f"stage {flavour} copies {copies}, not only the assembled root filesystem")
    entry = [r for w, r in stage["lines"] if w == "ENTRYPOINT"]
    if entry != ['["/usr/local/bin/docker-entrypoint.sh"]']:
        problems.append(f"stage {flavour} ENTRYPOINT is {entry}")
    if [r for w, r in stage["lines"] if w == "CMD"] != [cmd]:
        problems.append(f"stage {flavour} CMD is not {cmd} (the official dev server, with no token file: it works on a read-only root)")
    env = " ".join(r for w, r in stage["lines"] if w == "ENV")
    if "HISTFILE=/dev/null" not in env:
        problems.append(f"stage {flavour} does not turn shell history off for exec sessions")
    assemble = stages.get(f"assemble-{flavour}", {"lines": []})["lines"]
    if not any(w == "RUN" and f"scripts/assemble-rootfs.sh {flavour} /rootfs" in r for w, r in assemble):
        problems.append(f"stage assemble-{flavour} does not run scripts/assemble-rootfs.sh {flavour}")

# Every platform the official images ship (README: Platforms), mapped to the Rust target CI builds
# and tests: musl, or static glibc where rustup serves no musl rust-std (scripts/build-static.sh),
# whose arm installs that platform's cross gcc and C library, pinned. The build stage runs on the
# build platform and cross-compiles for TARGETARCH/TARGETVARIANT; the server stages are the target
# platform's own image. arm/v6 has neither rust-std: it must be refused (None).
PLATFORMS = {
    "amd64/": "x86_64-unknown-linux-musl",
    "arm64/": "aarch64-unknown-linux-musl",
    "arm/v6": None,
    "arm/v7": "armv7-unknown-linux-gnueabihf",
    "arm/": "armv7-unknown-linux-gnueabihf",
    "386/": "i686-unknown-linux-musl",
    "ppc64le/": "powerpc64le-unknown-linux-gnu",
    "riscv64/": "riscv64gc-unknown-linux-gnu",
    "s390x/": "s390x-unknown-linux-gnu",
}
# Debian's cross packages for each glibc target: gcc-TRIPLE and libc6-dev-ARCH-cross.
CROSS = {
    "armv7-unknown-linux-gnueabihf": ("arm-linux-gnueabihf", "armhf"),
    "powerpc64le-unknown-linux-gnu": ("powerpc64le-linux-gnu", "ppc64el"),
    "riscv64gc-unknown-linux-gnu": ("riscv64-linux-gnu", "riscv64"),
    "s390x-unknown-linux-gnu": ("s390x-linux-gnu", "s390x"),
}
build = stages.get("build")
build_from = re.match(r"FROM\s+(--platform=\S+\s+)?", next((l for l in lines if re.match(r"FROM\s.*\sAS\s+build$", l, re.I)), ""), re.I)
if not build or not build_from or not re.fullmatch(r"--platform=\$\{?BUILDPLATFORM(:-[^}]*)?\}?\s+", build_from.group(1) or ""):
    problems.append("stage build is not FROM --platform=$BUILDPLATFORM: it would compile under emulation")
else:
    runs = " ".join(r for w, r in build["lines"] if w == "RUN")
    cases = re.search(r'case "\$TARGETARCH/\$TARGETVARIANT" in(.*?)\besac\b', runs)
    # Each arm: its patterns and its commands (`target=T`, `cross="PKG=VER ..."`, or a refusal).
    arms = re.findall(r"([^;()]+)\)((?:[^;]|;(?!;))*);;", cases.group(1)) if cases else []
    for platform, expected in PLATFORMS.items():
        # The first arm whose pattern matches, as sh's case takes it.
        body = next((b for pats, b in arms if any(fnmatch.fnmatchcase(platform, p.strip()) for p in pats.split("|"))), "")
        target = re.match(r"\s*target=(\S+)", body)
        got = target.group(1) if target else None
        name = f"linux/{platform.rstrip('/')}"
        if got != expected:
            problems.append(f"stage build maps {name} to {got}, not {expected}")
        if got is None and not re.search(r"\bexit [1-9]", body):
            problems.append(f"stage build does not refuse {name}")
        cross = re.search(r'\bcross="([^"]*)"', body)
        packages = sorted(cross.group(1).split()) if cross else []
        if got in CROSS:
            triple, arch = CROSS[got]
            pinned = [re.fullmatch(rf"{re.escape(p)}=\S+", w) for p in (f"gcc-{triple}", f"libc6-dev-{arch}-cross") for w in packages[:2]]
            if len(packages) != 2 or sum(m is not None for m in pinned) != 2:
                problems.append(f"stage build does not install gcc-{triple} and libc6-dev-{arch}-cross, pinned (PKG=VERSION), for {name}: {packages}")
        elif packages:
            problems.append(f"stage build installs {packages} for {name}, whose {got} needs no cross gcc")
    if not re.search(r'\besac\b.*&&\s*bash scripts/build-static\.sh "\$target"', runs):
        problems.append("stage build does not build the mapped target with scripts/build-static.sh")
    if not re.search(r'\bif \[ -n "\$cross" \]; then\s+apt-get update -qq && apt-get install -y -qq --no-install-recommends \$cross\b', runs):
        problems.append("stage build does not install the $cross packages before it builds")
    for name, stage in stages.items():
        if name.endswith("-server") and "--platform" in next((l for l in lines if l.lower().endswith(f" as {name}")), ""):
            problems.append(f"stage {name} names a platform: the server must be the target platform's image")

for p in problems:
    print(f"Dockerfile: {p}")
sys.exit(1 if problems else 0)
