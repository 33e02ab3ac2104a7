const test = require("node:test");
const assert = require("node:assert");
const { add, sub } = require("../src/calc.js");

test("adds", () => assert.equal(add(1, 2), 3));
test("adds zero", () => assert.equal(add(0, 0), 0));
test("subtracts", () => assert.equal(sub(3, 2), 1));
