//! A tiny calculator: the example project ci-attest attests in its demo.

/// Adds two numbers, saturating at the bounds.
pub fn add(a: i64, b: i64) -> i64 {
    a.saturating_add(b)
}

/// Divides, or returns `None` for a division by zero.
pub fn div(a: i64, b: i64) -> Option<i64> {
    a.checked_div(b)
}

/// Parses and evaluates `"<a> <op> <b>"` with `op` one of `+ - * /`.
pub fn eval(expr: &str) -> Result<i64, String> {
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let [a, op, b] = parts.as_slice() else {
        return Err(format!("expected \"<a> <op> <b>\", found {expr:?}"));
    };
    let a: i64 = a.parse().map_err(|e| format!("left operand: {e}"))?;
    let b: i64 = b.parse().map_err(|e| format!("right operand: {e}"))?;
    match *op {
        "+" => Ok(add(a, b)),
        "-" => Ok(a.saturating_sub(b)),
        "*" => Ok(a.saturating_mul(b)),
        "/" => div(a, b).ok_or_else(|| "division by zero".to_string()),
        other => Err(format!("expected one of + - * /, found {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds() {
        assert_eq!(add(2, 3), 5);
    }

    #[test]
    fn addition_saturates() {
        assert_eq!(add(i64::MAX, 1), i64::MAX);
    }

    #[test]
    fn division_by_zero_is_none() {
        assert_eq!(div(1, 0), None);
    }

    #[test]
    fn evaluates_expressions() {
        assert_eq!(eval("6 * 7"), Ok(42));
        assert!(eval("6 % 7").is_err());
    }
}
