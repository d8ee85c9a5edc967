#!/usr/bin/env bash
# CI runs the benchmark in a tiny version only: it must run, and the
# mxshield program and the four-trie baseline must agree on every verdict.
cd "$(dirname "$0")/.." && exec build/bench --smoke
