#!/usr/bin/env node
// Entry point of the published package and the image: runs the compiled operator.
import '../dist/main.js';
