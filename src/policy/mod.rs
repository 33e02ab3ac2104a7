//! Policy files (`policies/*.toml`): trusted signers, required checks and thresholds.
