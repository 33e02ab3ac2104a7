//! DSSE envelopes and the pre-authentication encoding (PAE).
