function add(a, b) {
  return a + b;
}

function sub(a, b) {
  // Wrong on purpose: the failing test below catches it.
  return a + b;
}

module.exports = { add, sub };
