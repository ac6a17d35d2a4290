import { RunpodKeyForm } from './runpod-key-form';

export const metadata = { title: 'Settings' };

export default function Settings() {
  return (
    <main>
      <h1>Settings</h1>
      <RunpodKeyForm />
    </main>
  );
}
