function human(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
  if (s < 48 * 3600) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' days';
}

export default {
  render({ model, el }) {
    const span = document.createElement('span');
    span.className = 'nb-oauth-countdown-text';
    el.appendChild(span);
    const tick = () => {
      const deadline = model.get('deadline');
      if (!deadline) { span.textContent = ''; return; }
      const left = Math.floor(deadline - Date.now() / 1000);
      span.textContent = left > 0 ? model.get('template').replace('{}', human(left)) : model.get('done_text');
    };
    tick();
    const timer = setInterval(tick, 1000);
    const names = ['deadline', 'template', 'done_text'];
    for (const name of names) model.on('change:' + name, tick);
    return () => {
      clearInterval(timer);
      for (const name of names) model.off('change:' + name, tick);
    };
  },
};
