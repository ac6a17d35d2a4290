import type { ReactNode } from 'react';
import './style.css';

export const metadata = { title: 'Fine-tune on RunPod' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <nav>
          <a href="/">Train</a> · <a href="/settings">Settings</a>
        </nav>
        {children}
      </body>
    </html>
  );
}
