/// <reference types="vitest/config" />
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig, type Plugin } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { svelteTesting } from '@testing-library/svelte/vite'

// Vite empties dist/ before each build; put back the tracked .gitkeep that lets
// main.go's //go:embed compile before the first frontend build.
function keepDist(): Plugin {
  return {
    name: 'ferry-keep-dist',
    apply: 'build',
    closeBundle() {
      writeFileSync(resolve(import.meta.dirname, 'dist/.gitkeep'), '')
    },
  }
}

export default defineConfig({
  plugins: [svelte(), svelteTesting(), keepDist()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['./vitest-setup.ts'],
    // Some tests walk the whole wizard in jsdom: the 5 s default is too short on a busy machine.
    testTimeout: 30_000,
  },
})
