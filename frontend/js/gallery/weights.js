// Quantities the gallery computes from an instance's weights in the browser. The gallery asks the
// server to leave the n × n WᵀW out of its answers (`gram=false`: 19 MB for the 200-feature
// presets); WᵀW is computed from W by the shared maths module where a view draws it.

export { gramOf } from "../maths.js";
