<!-- placeholder until the playground page is written --><html></html>
