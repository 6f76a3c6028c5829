import { h, replace } from './dom.js';
import { forgetMe, loadMe } from './me.js';
import { navigate } from './router.js';
import { session } from './session.js';
import { errorBox, pageHeader } from './ui.js';

/** What an API key or a bearer token consists of: printable ASCII, no spaces. */
const KEY_TEXT = /^[\x21-\x7e]+$/;

/**
 * Sign-in: the user pastes an API key (`careplus keys create --name N --role R` prints one). The key is checked
 * with `me` before it is kept; a refused key is not stored.
 */
export function renderLogin(main: HTMLElement, reason: string | null): void {
  const input = h('input', {
    id: 'api-key',
    name: 'api-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'api-key-help',
  });
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'page-title' },
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h(
      'p',
      { id: 'api-key-help', class: 'help' },
      'Paste the key you were given (it starts with cpk_). It is kept for this browser tab only and sent only to this server.',
    ),
    submit,
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key === '') return;
    // Keys and tokens are printable ASCII. Any other character (a "…" of a shortened copy, a space or zero-width
    // space pasted along) cannot go into an HTTP header: the browser refused to send it, which was shown as "Cannot
    // reach the API. Check your connection".
    if (!KEY_TEXT.test(key)) {
      session.signOut();
      replace(
        status,
        errorBox(
          new Error(
            'The key holds a character keys never have (a space, “…” or another character outside plain ASCII): paste the whole key again, exactly as it was given.',
          ),
          'The key was not accepted',
        ),
      );
      input.focus();
      return;
    }
    submit.disabled = true;
    replace(status, h('p', { role: 'status' }, 'Checking the key…'));
    session.signIn(key);
    forgetMe();
    loadMe()
      .then(() => navigate('#/datasets'))
      .catch((err: unknown) => {
        // A key that was not accepted, for whatever reason (refused, too long for a header, the server down), is not
        // kept: a reload would show the console signed in with it.
        session.signOut();
        replace(status, errorBox(err, 'The key was not accepted'));
        submit.disabled = false;
        input.focus();
      });
  });
  replace(
    main,
    pageHeader('Sign in'),
    reason !== null ? h('p', { class: 'notice', role: 'status' }, reason) : null,
    form,
  );
  input.focus();
}
