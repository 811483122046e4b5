//! The parsers through the library target, on inputs that the fuzzers reach only by luck: nesting
//! that a recursive parser would follow to a stack overflow must be refused, on one line.

#[test]
fn sh_nesting_a_recursive_parser_would_overflow_on_is_refused_on_one_line() {
    for deep in [
        "if true; then ".repeat(5_000),
        "while true; do ".repeat(5_000),
        format!("echo $(({}1{}))", "(".repeat(100_000), ")".repeat(100_000)),
        "! ".repeat(100_000),
    ] {
        let refusal = hardinit::sh::check_script(&deep).expect_err(&deep[..40]);
        assert!(!refusal.contains('\n'), "{refusal:?}");
    }
}

#[test]
fn hcl_nesting_a_recursive_parser_would_overflow_on_is_one_error_line() {
    for deep in [
        format!("a = {}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        "a {".repeat(100_000),
        format!("{}1{}", "{\"a\": ".repeat(100_000), "}".repeat(100_000)),
    ] {
        let error = hardinit::harden::hcl::parse(deep.as_bytes()).expect_err(&deep[..20]).to_string();
        assert!(!error.contains('\n'), "{error:?}");
    }
}
