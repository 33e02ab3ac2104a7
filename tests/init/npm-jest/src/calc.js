function add(a, b) { return a + b; }
function sign(x) { if (x < 0) { return -1; } return 1; }
module.exports = { add, sign };
