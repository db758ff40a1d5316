import { mount } from 'svelte'
import './app.css'
import App from './App.svelte'

async function start() {
  // Outside the desktop app (a plain browser), ?mock serves made-up data for a look at the UI.
  const params = new URLSearchParams(location.search)
  if (!window.go && params.has('mock')) {
    const { installMock } = await import('./lib/mock')
    installMock(params)
  }
  mount(App, { target: document.getElementById('app')! })
}

void start()
