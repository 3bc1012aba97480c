#!/usr/bin/env node
import "../dist/airut.js"
