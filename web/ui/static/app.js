// The UI's only script: live preview of the policy editor and a question
// before deleting. Everything works without it (the step buttons post the
// form, the preview is rendered with the page).
(function () {
  'use strict';

  document.addEventListener('submit', function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
    }
  });

  var form = document.querySelector('form[data-preview]');
  var out = document.getElementById('preview');
  if (!form || !out) {
    return;
  }
  var url = form.getAttribute('data-preview');
  var timer = null;
  var seq = 0;

  function refresh() {
    var mine = ++seq;
    var body = new URLSearchParams(new FormData(form));
    body.delete('op');
    out.setAttribute('aria-busy', 'true');
    fetch(url, {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: { 'X-Requested-With': 'fetch' }
    }).then(function (res) {
      return res.text();
    }).then(function (html) {
      if (mine !== seq) {
        return; // a newer request is on its way
      }
      out.innerHTML = html;
      out.removeAttribute('aria-busy');
      out.setAttribute('data-updates', String(mine));
    }).catch(function () {
      if (mine === seq) {
        out.removeAttribute('aria-busy');
        out.innerHTML = '<p class="problem">The preview could not be loaded.</p>';
      }
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  }
  form.addEventListener('input', schedule);
  form.addEventListener('change', schedule);

  var summary = document.getElementById('error-summary');
  if (summary && !document.querySelector('[autofocus]')) {
    var firstLink = summary.querySelector('a');
    if (firstLink) {
      firstLink.focus();
    }
  }
})();
