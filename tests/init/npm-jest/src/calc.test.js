const { add, sign } = require("./calc");
test("adds", () => { expect(add(2, 3)).toBe(5); });
test("signs", () => { expect(sign(-2)).toBe(-1); });
test("broken", () => { expect(add(1, 1)).toBe(3); });
