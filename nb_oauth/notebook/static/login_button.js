function baseUrl() {
  try {
    const el = document.getElementById('jupyter-config-data');
    if (el) {
      const cfg = JSON.parse(el.textContent || '{}');
      if (cfg.baseUrl) return cfg.baseUrl;
    }
  } catch (e) { /* fall through */ }
  const data = document.body && document.body.dataset;
  return (data && data.baseUrl) || '/';
}

function pageInfo() {
  return { origin: window.location.origin, base_url: baseUrl() };
}

function holdingPage(win) {
  try {
    win.document.title = 'Opening the login page…';
    win.document.body.innerHTML =
      '<p style="font:16px sans-serif;margin:2em">Opening the login page…</p>';
  } catch (e) { /* cross-origin already: nothing to write */ }
}

export default {
  render({ model, el }) {
    const button = document.createElement('button');
    button.type = 'button';
    const sync = () => {
      button.textContent = model.get('description');
      button.disabled = model.get('disabled');
      button.title = model.get('tooltip') || '';
      button.className = 'jupyter-button widget-button mod-primary ' + model.get('button_class');
    };
    sync();
    el.appendChild(button);

    let pending = null;
    button.addEventListener('click', () => {
      if (model.get('disabled')) return;
      let win = null;
      if (model.get('opens_window')) {
        try { win = window.open('', '_blank'); } catch (e) { win = null; }
        if (win) {
          holdingPage(win);
          try { win.opener = null; } catch (e) { /* ignore */ }
        }
      }
      pending = win;
      model.send({ event: 'click', window_opened: !!win, ...pageInfo() });
    });

    const onMessage = (msg) => {
      if (!msg || !pending) return;
      if (msg.event === 'navigate' && /^https?:\/\//i.test(msg.url || '')) {
        pending.location.href = msg.url;
        pending = null;
      } else if (msg.event === 'close') {
        try { pending.close(); } catch (e) { /* ignore */ }
        pending = null;
      }
    };
    model.on('msg:custom', onMessage);
    for (const name of ['description', 'disabled', 'tooltip', 'button_class']) {
      model.on('change:' + name, sync);
    }
    model.send({ event: 'hello', ...pageInfo() });
    return () => {
      model.off('msg:custom', onMessage);
      for (const name of ['description', 'disabled', 'tooltip', 'button_class']) {
        model.off('change:' + name, sync);
      }
    };
  },
};
