export function add(a, b) { return a + b; }
export function sign(x) { if (x < 0) { return -1; } return 1; }
