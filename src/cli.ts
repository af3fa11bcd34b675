#!/usr/bin/env node
/** The package's bin: runs the command line (src/main.ts, the process boundary). */
import { main } from './main.js';

await main();
