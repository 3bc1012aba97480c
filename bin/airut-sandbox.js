#!/usr/bin/env node
import "../dist/airut-sandbox.js"
