//! `memory`: the memory rule the server follows, and whether the pod's QoS lets it swap.

use super::*;

/// A Kubernetes quantity in its base unit (`512Mi`, `1.5G`, `250m`).
pub(super) fn quantity(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let text = text.trim();
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse().ok()
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

/// The pod's QoS class, as the kubelet computes it: every container (init containers too)
/// with cpu and memory limits that requests equal (an unset request is its limit): Guaranteed;
/// no request or limit anywhere: BestEffort; else Burstable.
pub(super) fn qos(pod: &Node) -> Qos {
    let containers: Vec<&Node> = ["initContainers", "containers"].iter().flat_map(|l| pod.get(l).items()).collect();
    let mut any = false;
    let mut guaranteed = true;
    for container in containers {
        for resource in ["cpu", "memory"] {
            let limit = container.at(&format!("resources.limits.{resource}")).text().and_then(quantity);
            let request = container.at(&format!("resources.requests.{resource}")).text().and_then(quantity);
            any |= limit.is_some() || request.is_some();
            match (limit, request) {
                (Some(l), Some(r)) if (l - r).abs() > f64::EPSILON * l.abs().max(1.0) => guaranteed = false,
                (None, _) => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => Qos::BestEffort,
        (true, true) => Qos::Guaranteed,
        (true, false) => Qos::Burstable,
    }
}

pub(super) fn memory_finding(ctx: &mut Ctx, rule: &Result<MemoryRule, server_config::ConfigError>) {
    let target = ctx.target;
    let why = memory::WHY_MEMORY;
    let resources = target.container.get("resources");
    let line = resources.line_or(0);
    let finding = match rule {
        Err(e) => Finding::new(
            "memory",
            Status::Fail,
            format!("cannot read the server's configuration as the server will: {e}"),
            why,
            "correct the configuration or the variable (the server reads it the same way)",
        ),
        Ok(MemoryRule::NotAServer) => pass("memory", "not a `server` command: no server memory to guard", why),
        Ok(MemoryRule::WarnOnly(w)) => warn(
            "memory",
            format!("{w}: its memory is not guarded"),
            why,
            "for production, run `server -config=...` without -dev",
        ),
        Ok(MemoryRule::Mlock(w)) => {
            let added = capabilities(target.container, "add").contains(&"IPC_LOCK".to_string());
            let privileged = target.container.at("securityContext.privileged").boolean() == Some(true);
            if added || privileged {
                pass("memory", format!("mlock rule ({w}): the container adds IPC_LOCK"), why)
            } else {
                Finding::new(
                    "memory",
                    Status::Fail,
                    format!(
                        "mlock rule ({w}): the server would not hold CAP_IPC_LOCK (securityContext.capabilities.add has no IPC_LOCK)"
                    ),
                    why,
                    "securityContext.capabilities.add: [\"IPC_LOCK\"]; or set disable_mlock = true and keep the pod from swapping (Guaranteed or BestEffort QoS, or NoSwap nodes)",
                )
            }
        }
        Ok(MemoryRule::Swap(w)) => {
            let memory = |field: &str| resources.at(&format!("{field}.memory")).text().map(str::to_string);
            let (limit, request) = (memory("limits"), memory("requests"));
            match qos(target.workload.pod) {
                Qos::Burstable
                    if request.as_deref().and_then(quantity).is_some_and(|r| r > 0.0)
                        && limit.as_deref().and_then(quantity) != request.as_deref().and_then(quantity) =>
                {
                    warn(
                        "memory",
                        format!(
                            "swap rule ({w}): the pod is Burstable and the server's memory request {} is below its limit {}: on a node with LimitedSwap its memory may be swapped out",
                            request.unwrap_or_default(),
                            limit.unwrap_or_else(|| "(none)".into())
                        ),
                        why,
                        "set the memory (and cpu) limits equal to the requests (Guaranteed QoS: never swapped), or mlock (disable_mlock = false with IPC_LOCK, Vault only), or keep the nodes on NoSwap",
                    )
                }
                qos => pass(
                    "memory",
                    format!(
                        "swap rule ({w}): the pod is {qos:?}: Kubernetes gives it no swap (NoSwap, and LimitedSwap swaps Burstable pods only)"
                    ),
                    why,
                ),
            }
        }
    };
    ctx.push(finding, SWAP, line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_qos() {
        assert_eq!(quantity("512Mi"), Some(536870912.0));
        assert_eq!(quantity("250m"), Some(0.25));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("x"), None);
        let pod = |text: &str| crate::yaml::documents(text).unwrap().remove(0).root;
        assert_eq!(qos(&pod("containers: [{name: a}]")), Qos::BestEffort);
        assert_eq!(qos(&pod("containers: [{resources: {limits: {cpu: 1, memory: 1Gi}}}]")), Qos::Guaranteed);
        assert_eq!(
            qos(&pod("containers: [{resources: {limits: {cpu: 1, memory: 1Gi}, requests: {memory: 512Mi}}}]")),
            Qos::Burstable
        );
    }
}
