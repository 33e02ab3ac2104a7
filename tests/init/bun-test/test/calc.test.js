import { test, expect } from "bun:test";
import { add, sub } from "../src/calc.js";
test("adds", () => expect(add(1, 2)).toBe(3));
test("adds zero", () => expect(add(0, 0)).toBe(0));
test("subtracts", () => expect(sub(3, 2)).toBe(1));
